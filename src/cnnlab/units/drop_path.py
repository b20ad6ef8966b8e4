"""Stochastic depth, per sample (Huang et al. 2016, "Deep Networks with Stochastic Depth").

During training each sample's residual branch is dropped with probability ``drop_prob`` and the
surviving ones are scaled by ``1 / keep_prob`` (``keep_prob = 1 - drop_prob``), so the expectation is
unchanged and evaluation is the identity (the "inverted" form of the paper's test-time scaling).
Put it on the residual branch: ``x + drop_path(branch(x))``.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_probability

__all__ = ["drop_path", "DropPath"]


def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = True) -> torch.Tensor:
    """Zero whole samples of ``x`` (dim 0) with probability ``drop_prob``; rescale the rest by ``1/keep_prob``."""
    drop_prob = require_probability("drop_prob", drop_prob, "drop_path")
    if not training or drop_prob == 0.0:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.dim() - 1)  # one draw per sample, broadcast over the rest
    mask = torch.empty(mask_shape, dtype=x.dtype, device=x.device).bernoulli_(keep_prob)
    return x * mask.div_(keep_prob)


class DropPath(nn.Module):
    """Module form of :func:`drop_path`; identity in ``eval()`` mode. Sits beside Dropout and BatchNorm."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        drop_prob = require_probability("drop_prob", drop_prob, "DropPath")
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:g}"
