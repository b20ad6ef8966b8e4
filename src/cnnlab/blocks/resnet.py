"""ResNet residual blocks (He et al. 2016, Fig. 5): BasicBlock (left) and Bottleneck (right).

Where the Bottleneck downsamples is a named option, ``stride_on``:

* ``"1x1"`` — the paper ("v1"): the first 1x1 conv has stride 2, so the 3x3 already runs at the reduced
  resolution. ResNet-50 then costs 3.86 GMACs, the paper's "3.8 × 10^9 FLOPs" (Table 1; the paper counts
  multiply-adds).
* ``"3x3"`` — torchvision ("v1.5", from Goyal et al. 2017 / NVIDIA): the 3x3 conv has stride 2, so the first
  1x1 of each downsampling block runs at full resolution: 4.09 GMACs, about +0.5% top-1.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_choice, require_divisible, require_positive
from cnnlab.blocks._common import ReLU, check_block_args
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["BasicBlock", "Bottleneck", "projection_shortcut"]


def projection_shortcut(
    in_channels: int, out_channels: int, stride: int, norm_layer: LayerFactory | None
) -> nn.Module:
    """Identity when shapes match, else the paper's option (B): a strided 1x1 conv + BN (Eqn. 2)."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ConvNormAct(in_channels, out_channels, 1, stride, 0, norm_layer=norm_layer, act_layer=None)


class BasicBlock(nn.Module):
    """Two 3x3 convs and an identity (or projection) shortcut — Fig. 5 left, ResNet-18/34.

    Children: ``conv1``, ``conv2`` (ConvNormAct; conv2 without activation), ``shortcut``, ``act``.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"BasicBlock({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        super().__init__()
        self.conv1 = ConvNormAct(cin, cout, 3, stride, 1, norm_layer=norm_layer, act_layer=act_layer)
        self.conv2 = ConvNormAct(cout, cout, 3, 1, 1, norm_layer=norm_layer, act_layer=None)
        self.shortcut = projection_shortcut(cin, cout, stride, norm_layer)
        self.act = act_layer() if act_layer is not None else nn.Identity()

    def last_norm(self) -> nn.Module | None:
        return getattr(self.conv2, "bn", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        out += self.shortcut(x)
        return self.act(out)


class Bottleneck(nn.Module):
    """1x1 reduce → 3x3 → 1x1 expand, plus shortcut — Fig. 5 right, ResNet-50/101/152.

    ``mid_channels`` is the bottleneck width (default ``out_channels // 4``); with ``groups > 1`` the 3x3 is a
    grouped conv, which makes this the ResNeXt block in its Fig. 3(c) form. Children: ``conv1``, ``conv2``,
    ``conv3``, ``shortcut``, ``act``.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        mid_channels: int | None = None,
        groups: int = 1,
        stride_on: str = "3x3",
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"Bottleneck({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        mid = require_positive("mid_channels", cout // 4 if mid_channels is None else mid_channels, where)
        g = require_positive("groups", groups, where)
        require_divisible("mid_channels", mid, "groups", g, where)
        require_choice("stride_on", stride_on, ("3x3", "1x1"), where)
        super().__init__()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.conv1 = ConvNormAct(cin, mid, 1, s1, 0, norm_layer=norm_layer, act_layer=act_layer)
        self.conv2 = ConvNormAct(mid, mid, 3, s3, 1, groups=g, norm_layer=norm_layer, act_layer=act_layer)
        self.conv3 = ConvNormAct(mid, cout, 1, 1, 0, norm_layer=norm_layer, act_layer=None)
        self.shortcut = projection_shortcut(cin, cout, stride, norm_layer)
        self.act = act_layer() if act_layer is not None else nn.Identity()

    def last_norm(self) -> nn.Module | None:
        return getattr(self.conv3, "bn", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        out += self.shortcut(x)
        return self.act(out)
