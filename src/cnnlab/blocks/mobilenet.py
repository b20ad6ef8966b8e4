"""MobileNet blocks.

* ``DepthwiseSeparableBlock`` — MobileNet V1 (Howard et al. 2017, Fig. 3 right): 3x3 depthwise conv → BN →
  ReLU, then 1x1 pointwise conv → BN → ReLU. Cost per pixel k²·in + in·out instead of k²·in·out.
* ``InvertedResidual`` — MobileNet V2 (Sandler et al. 2018, Fig. 3(b) and Table 1): 1x1 expansion by t →
  ReLU6, 3x3 depthwise → ReLU6, 1x1 projection with *no* activation (the linear bottleneck); the residual
  connects the thin bottlenecks, only when stride is 1 and in == out channels.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_positive, require_range
from cnnlab.blocks._common import ReLU, ReLU6, check_block_args
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["DepthwiseSeparableBlock", "InvertedResidual"]


class DepthwiseSeparableBlock(nn.Module):
    """Depthwise 3x3 (stride here) then pointwise 1x1. Children: ``dw``, ``pw`` (ConvNormAct)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"DepthwiseSeparableBlock({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        super().__init__()
        self.dw = ConvNormAct(cin, cin, 3, stride, 1, groups=cin, norm_layer=norm_layer, act_layer=act_layer)
        self.pw = ConvNormAct(cin, cout, 1, 1, 0, norm_layer=norm_layer, act_layer=act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class InvertedResidual(nn.Module):
    """Expand (1x1, ×t) → depthwise 3x3 → project (1x1, linear). Children: ``expand`` (absent when t = 1),
    ``dw``, ``project``; ``use_residual`` tells whether the shortcut is used."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        expand_ratio: float = 6,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU6,
    ) -> None:
        where = f"InvertedResidual({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        require_range("expand_ratio", expand_ratio, 1.0, None, where)
        hidden = require_positive("hidden channels (in_channels × expand_ratio)",
                                  int(round(cin * expand_ratio)), where)
        super().__init__()
        self.use_residual = stride == 1 and cin == cout
        self.has_expand = expand_ratio != 1
        if self.has_expand:
            self.expand = ConvNormAct(cin, hidden, 1, 1, 0, norm_layer=norm_layer, act_layer=act_layer)
        self.dw = ConvNormAct(hidden, hidden, 3, stride, 1, groups=hidden, norm_layer=norm_layer,
                              act_layer=act_layer)
        self.project = ConvNormAct(hidden, cout, 1, 1, 0, norm_layer=norm_layer, act_layer=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.has_expand else x
        out = self.project(self.dw(out))
        return x + out if self.use_residual else out
