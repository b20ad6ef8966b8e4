"""GoogLeNet's Inception module (Szegedy et al. 2015, Fig. 2): four branches concatenated.

(b) with dimension reductions: 1x1 | 1x1→3x3 | 1x1→5x5 | 3x3 max-pool→1x1;
(a) the naive version: 1x1 | 3x3 | 5x5 | 3x3 max-pool, whose output width grows by the input width every
module and whose 5x5 branch costs in×out×25 MACs per pixel — the reason the 1x1 reductions exist.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.blocks._common import ReLU, check_block_args
from cnnlab.errors import ConfigError
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["InceptionBlock"]


class InceptionBlock(nn.Module):
    """Inception module; the channel knobs are the columns of GoogLeNet Table 1.

    ``kernel_5x5=5`` is the paper's branch; torchvision's ``googlenet`` uses 3 there (a known slip kept for
    weight compatibility, pytorch/vision#906). ``out_channels`` may be None (computed) or must equal the sum
    of the branch widths. Children: ``branch1``, ``branch2``, ``branch3``, ``branch4`` (torchvision names).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        *,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        kernel_5x5: int = 5,
        naive: bool = False,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"InceptionBlock({in_channels}->{out_channels})"
        cin, _, stride = check_block_args(where, in_channels, out_channels or 1, stride, strides=(1,),
                                          norm_layer=norm_layer, act_layer=act_layer)
        widths = {"ch1x1": ch1x1, "ch3x3red": ch3x3red, "ch3x3": ch3x3, "ch5x5red": ch5x5red,
                  "ch5x5": ch5x5, "pool_proj": pool_proj}
        for name, value in widths.items():
            require_positive(name, value, where)
        require_choice("kernel_5x5", kernel_5x5, (3, 5), where)
        total = ch1x1 + ch3x3 + ch5x5 + (cin if naive else pool_proj)
        if out_channels is not None and out_channels != total:
            raise ConfigError(f"{where}: out_channels={out_channels} but the branches give {total} channels")
        self.out_channels = total
        super().__init__()
        conv = partial(ConvNormAct, norm_layer=norm_layer, act_layer=act_layer)
        self.branch1 = conv(cin, ch1x1, 1)
        pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)
        if naive:
            self.branch2 = nn.Sequential(conv(cin, ch3x3, 3))
            self.branch3 = nn.Sequential(conv(cin, ch5x5, kernel_5x5))
            self.branch4 = nn.Sequential(pool)
        else:
            self.branch2 = nn.Sequential(conv(cin, ch3x3red, 1), conv(ch3x3red, ch3x3, 3))
            self.branch3 = nn.Sequential(conv(cin, ch5x5red, 1), conv(ch5x5red, ch5x5, kernel_5x5))
            self.branch4 = nn.Sequential(pool, conv(cin, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)
