"""ShuffleNet V1 unit (Zhang et al. 2018, Fig. 2(b) and (c)).

Grouped 1x1 → BN → ReLU → channel shuffle → 3x3 depthwise (stride here) → BN → grouped 1x1 → BN, then
stride 1: add the identity and ReLU (Fig. 2b); stride 2: concatenate a 3x3/2 average-pooled shortcut and
ReLU (Fig. 2c), so the branch makes ``out - in`` channels. The bottleneck is ``out / 4`` channels wide.
The shuffle lets information cross the groups of the next grouped conv (Fig. 1).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_divisible, require_positive
from cnnlab.blocks._common import ReLU, check_block_args
from cnnlab.errors import ConfigError
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["ShuffleUnit"]


class ShuffleUnit(nn.Module):
    """ShuffleNet unit. ``first_grouped=False`` keeps the first 1x1 dense (the paper does so for the first
    unit of Stage 2, whose input is only 24 channels). Children: ``conv1``, ``shuffle``, ``dw``, ``conv2``,
    ``shortcut`` (stride 2 only), ``act``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        groups: int = 3,
        first_grouped: bool = True,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"ShuffleUnit({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        g = require_positive("groups", groups, where)
        if stride == 1 and cin != cout:
            raise ConfigError(f"{where}: a stride-1 unit adds the identity, so in_channels must equal "
                              f"out_channels, got {cin} and {cout}")
        branch_out = cout - cin if stride == 2 else cout
        if branch_out < 1:
            raise ConfigError(f"{where}: a stride-2 unit concatenates its input, so out_channels must exceed "
                              f"in_channels={cin}, got {cout}")
        mid = require_positive("mid channels (out_channels // 4)", cout // 4, where)
        g1 = g if first_grouped else 1
        require_divisible("in_channels", cin, "groups", g1, where)
        require_divisible("mid channels (out_channels // 4)", mid, "groups", g, where)
        require_divisible("branch out channels", branch_out, "groups", g, where)
        super().__init__()
        self.stride = stride
        self.conv1 = ConvNormAct(cin, mid, 1, 1, 0, groups=g1, norm_layer=norm_layer, act_layer=act_layer)
        self.shuffle = nn.ChannelShuffle(g) if g > 1 else nn.Identity()
        self.dw = ConvNormAct(mid, mid, 3, stride, 1, groups=mid, norm_layer=norm_layer, act_layer=None)
        self.conv2 = ConvNormAct(mid, branch_out, 1, 1, 0, groups=g, norm_layer=norm_layer, act_layer=None)
        if stride == 2:
            self.shortcut = nn.AvgPool2d(3, 2, 1)
        self.act = act_layer() if act_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.dw(self.shuffle(self.conv1(x))))
        if self.stride == 2:
            return self.act(torch.cat([self.shortcut(x), out], 1))
        return self.act(x + out)
