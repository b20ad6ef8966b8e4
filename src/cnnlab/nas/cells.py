"""NASNet normal and reduction cells built from a genotype (Zoph et al. 2018, Sec. 3, Fig. 4).

Both inputs are first mapped to ``C`` channels by ReLU-1x1 conv-BN; when the previous-previous
output is twice the resolution of the previous one (a reduction cell came in between), it is
brought down with a factorized reduce instead, as NASNet does. Each block applies one op to each of
its two inputs and adds the results; the cell concatenates the block outputs no block reads.
In a reduction cell the ops that read the cell inputs use stride 2.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnlab.nas.genotype import unused_states
from cnnlab.nas.ops import FactorizedReduce, make_op
from cnnlab.units import ConvNormAct

__all__ = ["Cell"]


def _preprocess(in_channels: int, channels: int) -> nn.Module:
    """ReLU → 1x1 conv → BN mapping a cell input to the cell's width."""
    return nn.Sequential(nn.ReLU(), ConvNormAct(in_channels, channels, 1, act_layer=None))


class Cell(nn.Module):
    """One NASNet cell; ``forward(s0, s1)`` with s0 the previous-previous, s1 the previous output."""

    def __init__(
        self,
        blocks: list[dict[str, Any]],
        prev_prev_channels: int,
        prev_channels: int,
        channels: int,
        reduction: bool,
        prev_prev_is_larger: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        kind = "reduction" if reduction else "normal"
        if prev_prev_is_larger:
            self.pre0: nn.Module = FactorizedReduce(prev_prev_channels, channels)
        else:
            self.pre0 = _preprocess(prev_prev_channels, channels)
        self.pre1 = _preprocess(prev_channels, channels)
        self.inputs = [tuple(b["inputs"]) for b in blocks]
        self.ops = nn.ModuleList()
        for b, block in enumerate(blocks):
            for side, (src, op) in enumerate(zip(block["inputs"], block["ops"], strict=True)):
                stride = 2 if reduction and src < 2 else 1
                where = f"{kind} cell block {b} op {side}"
                self.ops.append(make_op(op, channels, stride, where))
        self.concat = unused_states(blocks)
        self.out_channels = channels * len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for b, (i, j) in enumerate(self.inputs):
            states.append(self.ops[2 * b](states[i]) + self.ops[2 * b + 1](states[j]))
        return torch.cat([states[k] for k in self.concat], dim=1)
