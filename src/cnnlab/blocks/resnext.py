"""ResNeXt block (Xie et al. 2017, Fig. 3) in its three equivalent forms.

* ``form="a"`` split-transform-merge: C paths, each 1x1 (in→d) → 3x3 (d→d) → 1x1 (d→out), summed;
* ``form="b"`` early concatenation: C paths 1x1 → 3x3, concatenated, then one 1x1 (C·d→out);
* ``form="c"`` grouped convolution: 1x1 (in→C·d) → 3x3 with ``groups=C`` → 1x1 (C·d→out).

BN is per channel, so the per-path BNs of (a)/(b) are slices of (c)'s BN and the sum of (a)'s last 1x1s is
(c)'s last 1x1 on the concatenation: with tied weights (:meth:`ResNeXtBlock.load_form_c_state`) the three
give the same output. The networks use form (c) — the fast one — through ``Bottleneck(groups=C)``.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.blocks._common import ReLU, check_block_args
from cnnlab.blocks.resnet import projection_shortcut
from cnnlab.errors import ConfigError
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["ResNeXtBlock"]


class ResNeXtBlock(nn.Module):
    """Aggregated residual transformation with cardinality C and bottleneck width d (per path)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        cardinality: int = 32,
        bottleneck_width: int = 4,
        form: str = "c",
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = ReLU,
    ) -> None:
        where = f"ResNeXtBlock({in_channels}->{out_channels})"
        cin, cout, stride = check_block_args(where, in_channels, out_channels, stride,
                                             norm_layer=norm_layer, act_layer=act_layer)
        c = require_positive("cardinality", cardinality, where)
        d = require_positive("bottleneck_width", bottleneck_width, where)
        require_choice("form", form, ("a", "b", "c"), where)
        super().__init__()
        self.form, self.cardinality, self.bottleneck_width = form, c, d
        if form == "c":
            self.conv1 = ConvNormAct(cin, c * d, 1, 1, 0, norm_layer=norm_layer, act_layer=act_layer)
            self.conv2 = ConvNormAct(c * d, c * d, 3, stride, 1, groups=c, norm_layer=norm_layer,
                                     act_layer=act_layer)
            self.conv3 = ConvNormAct(c * d, cout, 1, 1, 0, norm_layer=norm_layer, act_layer=None)
        else:
            self.paths = nn.ModuleList(
                nn.Sequential(
                    ConvNormAct(cin, d, 1, 1, 0, norm_layer=norm_layer, act_layer=act_layer),
                    ConvNormAct(d, d, 3, stride, 1, norm_layer=norm_layer, act_layer=act_layer),
                    *([nn.Conv2d(d, cout, 1, bias=norm_layer is None)] if form == "a" else []),
                )
                for _ in range(c)
            )
            if form == "a":
                self.merge_norm = norm_layer(cout) if norm_layer is not None else nn.Identity()
            else:
                self.conv3 = ConvNormAct(c * d, cout, 1, 1, 0, norm_layer=norm_layer, act_layer=None)
        self.shortcut = projection_shortcut(cin, cout, stride, norm_layer)
        self.act = act_layer() if act_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "c":
            out = self.conv3(self.conv2(self.conv1(x)))
        elif self.form == "b":
            out = self.conv3(torch.cat([path(x) for path in self.paths], 1))
        else:
            out = self.merge_norm(torch.stack([path(x) for path in self.paths]).sum(0))
        return self.act(out + self.shortcut(x))

    @torch.no_grad()
    def load_form_c_state(self, block_c: ResNeXtBlock) -> None:
        """Tie this block's weights to a form-(c) block of the same shape (splitting them per path)."""
        if block_c.form != "c":
            raise ConfigError(f"load_form_c_state expects a form='c' block, got form={block_c.form!r}")
        if self.form == "c":
            self.load_state_dict(block_c.state_dict())
            return
        d = self.bottleneck_width
        self.shortcut.load_state_dict(block_c.shortcut.state_dict())
        for i, path in enumerate(self.paths):
            part = slice(i * d, (i + 1) * d)
            for unit, source in ((path[0], block_c.conv1), (path[1], block_c.conv2)):
                state = source.state_dict()
                unit.load_state_dict({k: v if v.dim() == 0 else v[part] for k, v in state.items()})
            if self.form == "a":
                path[2].weight.copy_(block_c.conv3.conv.weight[:, part])
                if path[2].bias is not None:
                    path[2].bias.copy_(block_c.conv3.conv.bias / self.cardinality)
        if self.form == "a":
            norm_state = {k[3:]: v for k, v in block_c.conv3.state_dict().items() if k.startswith("bn.")}
            self.merge_norm.load_state_dict(norm_state)
        else:
            self.conv3.load_state_dict(block_c.conv3.state_dict())
