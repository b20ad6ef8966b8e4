"""An enumerable cell space for honest strategy comparisons (in the spirit of NAS-Bench-201,
Dong & Yang 2020, shrunk): a cell of three nodes and three edges ``0→1, 0→2, 1→2``, one op per
edge from a short list, so every cell can be trained for ground truth (5 ops → 125 cells).
The network is stem → cell → 2x2 max pool → cell → global pool → fc, small enough for 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.ops import make_op
from cnnlab.nas.space_base import SearchSpace
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet, check_common
from cnnlab.units import ConvNormAct

__all__ = ["MICRO_OPS", "MICRO_EDGES", "validate_micro", "MicroCell", "MicroNet", "MicroSpace"]

MICRO_OPS = ("none", "identity", "conv_3x3", "sep_conv_3x3", "avg_pool_3x3")
MICRO_EDGES = ((0, 1), (0, 2), (1, 2))


def validate_micro(genotype: object) -> dict[str, Any]:
    """``{"space": "micro", "edges": [op01, op02, op12]}`` with ops from MICRO_OPS."""
    if not isinstance(genotype, dict) or not isinstance(genotype.get("edges"), list):
        raise ConfigError(f"micro genotype must be {{'space': 'micro', 'edges': [op, op, op]}}, got {genotype!r}")
    edges = genotype["edges"]
    if len(edges) != len(MICRO_EDGES):
        raise ConfigError(f"micro genotype needs {len(MICRO_EDGES)} edge ops, got {len(edges)}: {edges!r}")
    for (u, v), op in zip(MICRO_EDGES, edges, strict=True):
        if op not in MICRO_OPS:
            raise ConfigError(f"micro genotype edge {u}->{v}: unknown op {op!r}; known ops: {list(MICRO_OPS)}")
    return {"space": "micro", "edges": list(edges)}


class MicroCell(nn.Module):
    """node1 = op01(node0); node2 = op02(node0) + op12(node1); output node2."""

    def __init__(self, edges: list[str], channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(op, channels, 1, f"micro cell edge {i}") for i, op in enumerate(edges))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        node1 = self.ops[0](x)
        return self.ops[1](x) + self.ops[2](node1)


class MicroNet(ZooNet):
    """Stem conv → cell → max pool → 1x1 conv to 2C → cell → ReLU → pool → fc."""

    def __init__(self, genotype: dict[str, Any], num_classes: int = 10, in_chans: int = 1, C: int = 8) -> None:
        genotype = validate_micro(genotype)
        require_positive("C", C, "micro")
        check_common("micro", num_classes, in_chans, 0.0)
        edges = genotype["edges"]
        stages = StageStack(C)
        stages.add(nn.Sequential(MicroCell(edges, C)), C)
        stages.add(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), ConvNormAct(C, 2 * C, 1), MicroCell(edges, 2 * C)),
                   2 * C, 2)
        super().__init__(
            ConvNormAct(in_chans, C, 3), stages, ClassifierHead(2 * C, num_classes, conv=nn.ReLU()),
            stage_specs=[{"stage": 0, "channels": C}, {"stage": 1, "channels": 2 * C}], in_chans=in_chans,
        )
        self.genotype = genotype


class MicroSpace(SearchSpace):
    """One op token per edge: 3 edges × 5 ops = 125 cells."""

    name = "micro"

    @classmethod
    def from_options(cls, **_: Any) -> MicroSpace:
        return cls((len(MICRO_OPS),) * len(MICRO_EDGES), ("op",) * len(MICRO_EDGES))

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        return {"space": "micro", "edges": [MICRO_OPS[t] for t in self.check_tokens(tokens)]}

    def encode(self, genotype: dict[str, Any]) -> list[int]:
        return [MICRO_OPS.index(op) for op in validate_micro(genotype)["edges"]]

    @classmethod
    def build(cls, genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1) -> MicroNet:
        return MicroNet(genotype, num_classes=num_classes, in_chans=in_chans, C=C)
