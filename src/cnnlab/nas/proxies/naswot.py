"""NASWOT (Mellor et al., ICML 2021, "Neural Architecture Search without Training", Sec. 3): the log-determinant
of the kernel of binary activation patterns. Each image of the batch gets a code c (one bit per ReLU unit: is its
input positive); K_ij = N_A − d_H(c_i, c_j), the number of units on which images i and j agree; score =
log |det K|. As in the authors' code every ``nn.ReLU`` call adds its units (an op's ReLU counts again each time an
edge reads the same node), and the network is scored in train mode.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.nas.proxies.common import Batch, inputs_of, scoring_mode

__all__ = ["naswot", "activation_kernel"]


def activation_kernel(codes: torch.Tensor) -> torch.Tensor:
    """K = c cᵀ + (1 − c)(1 − c)ᵀ for binary codes c of shape (N, units), in float64: units minus the Hamming
    distance of each pair. Written with one product, (1 − c)(1 − c)ᵀ = units − s 1ᵀ − 1 sᵀ + c cᵀ (s: the
    row sums); the float32 product of 0/1 values is exact below 2²⁴ units."""
    codes = codes.flatten(1).to(torch.float32)
    units = codes.shape[1]
    if units >= 2**24:
        codes = codes.double()
    same = (codes @ codes.T).double()
    ones = codes.sum(1).double()
    return 2 * same - ones[:, None] - ones[None, :] + units


def naswot(model: nn.Module, batch: Batch) -> float:
    """log |det K| of the activation-pattern kernel over every ReLU of ``model`` on the batch's images
    (Mellor et al. 2021); −inf when two images share a code (K singular). The model is not touched."""
    x = inputs_of(batch, "naswot")
    kernel = torch.zeros(x.shape[0], x.shape[0], dtype=torch.float64, device=x.device)

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal kernel
        kernel = kernel + activation_kernel(inputs[0].detach() > 0)

    with scoring_mode(model):
        hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.ReLU)]
        try:
            with torch.no_grad():
                model(x)
        finally:
            for h in hooks:
                h.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)
