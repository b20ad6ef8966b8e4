"""VGG block: n × (3x3 conv → [BN] → ReLU), then a 2x2 max-pool (Simonyan & Zisserman 2015, Table 1)."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.blocks._common import ReLU, check_block_args
from cnnlab.errors import ConfigError
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["VGGBlock"]


class VGGBlock(nn.Sequential):
    """One column group of VGG Table 1: ``num_convs`` 3x3 convs (pad 1) and a 2x2/2 max-pool.

    ``stride=2`` ends the block with the max-pool (the paper's "maxpool" row); ``stride=1`` omits it.
    The convs keep their bias even with BN, as in torchvision's ``vgg*_bn`` (so weights load 1:1).
    Children: ``conv1 … convN`` (each a ConvNormAct) and ``pool``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 2,
        num_convs: int = 2,
        norm_layer: LayerFactory | None = None,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"VGGBlock({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        n = require_positive("num_convs", num_convs, where)
        super().__init__()
        for i in range(n):
            conv = ConvNormAct(cin if i == 0 else cout, cout, 3, 1, 1, bias=True,
                               norm_layer=norm_layer, act_layer=act_layer)
            self.add_module(f"conv{i + 1}", conv)
        if stride == 2:
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "pool") and isinstance(x, torch.Tensor) and min(x.shape[-2:]) < 2:
            raise ConfigError(f"VGGBlock: input {tuple(x.shape[-2:])} is too small for the 2x2 max-pool")
        return super().forward(x)
