"""Gradient-based receptive field: an independent check of the analytic one.

Back-propagates from one output unit of a deep copy of the model whose weights are positive (so no
path can cancel another) in float64, and measures the bounding box of the input pixels with a
nonzero gradient. Max pooling is swapped for average pooling in the copy, since the gradient of a max
reaches only the arg-max. Choose an input large enough that the box is not clipped by the border:
the analytic ``r`` counts positions in the zero padding, the gradient cannot.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.analysis.inspect import parse_input_size
from cnnlab.errors import ConfigError

__all__ = ["EmpiricalField", "empirical_receptive_field"]


@dataclass(frozen=True)
class EmpiricalField:
    """Nonzero-gradient box of output unit ``unit``: rows ``top..bottom`` and columns ``left..right``."""

    size: tuple[int, int]
    top_left: tuple[int, int]
    bottom_right: tuple[int, int]
    unit: tuple[int, int]
    output_size: tuple[int, int]

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the box in pixel coordinates (pixel i spans [i, i + 1)), comparable to ``start``."""
        return ((self.top_left[0] + self.bottom_right[0] + 1) / 2, (self.top_left[1] + self.bottom_right[1] + 1) / 2)


def _positive_copy(model: nn.Module, seed: int) -> nn.Module:
    probe = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    for _name, child in list(probe.named_modules()):
        for key, sub in list(child.named_children()):
            if isinstance(sub, nn.MaxPool2d) and sub.dilation in (1, (1, 1)):
                setattr(child, key, nn.AvgPool2d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) + 0.5)
        for m in probe.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    return probe


def empirical_receptive_field(model: nn.Module, input_size: object, unit: tuple[int, int] | None = None,
                              seed: int = 0) -> EmpiricalField:
    """Receptive field of one unit (default: the centre) of the model's 4-D output, from gradients."""
    shape = parse_input_size(input_size)
    if len(shape) != 4:
        raise ConfigError(f"input_size must be N x C x H x W, got {shape}")
    probe = _positive_copy(model, seed)
    x = (torch.rand((1, *shape[1:]), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
         + 0.5).requires_grad_(True)
    out = probe(x)
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise ConfigError("empirical_receptive_field needs a model whose output is a N x C x H x W feature map")
    h, w = out.shape[-2:]
    i, j = unit if unit is not None else (h // 2, w // 2)
    if not (0 <= i < h and 0 <= j < w):
        raise ConfigError(f"unit {(i, j)} is outside the {h}x{w} output map")
    out[0, :, i, j].sum().backward()
    hit = x.grad[0].abs().sum(0) > 0
    rows = torch.nonzero(hit.any(1)).flatten()
    cols = torch.nonzero(hit.any(0)).flatten()
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    return EmpiricalField((bottom - top + 1, right - left + 1), (top, left), (bottom, right), (i, j), (h, w))
