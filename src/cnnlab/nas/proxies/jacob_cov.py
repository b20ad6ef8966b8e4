"""jacob_cov (Mellor et al. 2020, "Neural Architecture Search without Training", arXiv:2006.04647 v1, Eq. 2),
as Abdelfattah et al. (ICLR 2021) compute it: the Jacobians J_i = ∂(Σ outputs of image i)/∂x_i of one batch,
Σ_J their correlation matrix with eigenvalues λ, and score = −Σ_i [log(λ_i + k) + 1/(λ_i + k)], k = 1e-5.
The network is scored in train mode (BatchNorm with batch statistics).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnlab.nas.proxies.common import Batch, inputs_of, scoring_mode

__all__ = ["jacob_cov", "jacobian_correlation_score"]

K = 1e-5  # the zero-cost code's k (foresight/pruners/measures/jacob_cov.py, eval_score)


def jacobian_correlation_score(jacobians: np.ndarray) -> float:
    """−Σ [log(λ + k) + 1/(λ + k)] over the eigenvalues λ of the rows' correlation matrix. A row without variance
    (an output that does not depend on the image) has no correlation: −inf, where the zero-cost code gives NaN."""
    rows = np.asarray(jacobians, dtype=np.float64).reshape(len(jacobians), -1)
    if (rows.std(axis=1) == 0).any() or not np.isfinite(rows).all():
        return float("-inf")
    eigenvalues = np.linalg.eigvalsh(np.corrcoef(rows))
    return float(-np.sum(np.log(eigenvalues + K) + 1.0 / (eigenvalues + K)))


def jacob_cov(model: nn.Module, batch: Batch) -> float:
    """The Jacobian-covariance score of ``model`` on the batch's images; the model is not touched."""
    x = inputs_of(batch, "jacob_cov").detach().clone().requires_grad_(True)
    with scoring_mode(model):
        y = model(x)
        if not y.requires_grad:
            return float("-inf")
        (grad,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y), allow_unused=True)
    if grad is None:
        return float("-inf")
    return jacobian_correlation_score(grad.detach().flatten(1).double().cpu().numpy())
