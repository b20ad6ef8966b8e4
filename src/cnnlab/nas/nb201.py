"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020, arXiv:2001.00326, Fig. 1; the benchmark's
"infer.tiny" model): a 3x3 conv stem, three stages of N cells at C, 2C, 4C channels joined by residual
reduction blocks, then BN → ReLU → global average pool → linear.

Every cell of the network has the same arch (:mod:`cnnlab.nas.nb201_arch`: the arch strings); the 15,625
cells' accuracies are the benchmark's table (:mod:`cnnlab.nas.nb201_table`).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.genotype import read_genotype_json
from cnnlab.nas.nb201_arch import NB201_EDGES, NB201_OPS, format_arch, parse_arch, validate_nb201
from cnnlab.nas.ops import make_op
from cnnlab.nas.space_base import SearchSpace
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet, check_common
from cnnlab.nets.paper_table import convs, kernel, table_row
from cnnlab.units import ConvNormAct

__all__ = ["NB201Cell", "ResidualReduction", "NB201Network", "nb201_paper_table", "NB201Space"]

# the benchmark's ops are cnnlab.nas.ops' (identical modules: ReLU → conv → BN, 3x3 average pool without the
# padding in the count, identity, zeros)
_CNNLAB_OP = {"none": "none", "skip_connect": "identity", "nor_conv_1x1": "conv_1x1",
              "nor_conv_3x3": "conv_3x3", "avg_pool_3x3": "avg_pool_3x3"}


def _relu_conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), ConvNormAct(cin, cout, 3, stride=stride, act_layer=None))


class NB201Cell(nn.Module):
    """Node j = Σ_{i<j} op_ij(node i); the output is node 3. ``edges[k]`` is the op of ``NB201_EDGES[k]``."""

    def __init__(self, ops: tuple[str, ...], channels: int) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.edges = nn.ModuleList(make_op(_CNNLAB_OP[op], channels, 1, f"nb201 cell edge {i}->{j}")
                                   for op, (i, j) in zip(ops, NB201_EDGES, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            total = None
            for k, (i, j) in enumerate(NB201_EDGES):
                if j == node:
                    y = self.edges[k](nodes[i])
                    total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]


class ResidualReduction(nn.Module):
    """The benchmark's ResNet basic block with stride 2: ``shortcut(x) + conv_b(conv_a(x))``, no activation
    after the sum; conv_a/b = ReLU → 3x3 conv → BN, shortcut = 2x2 average pool → 1x1 conv (no BN)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = _relu_conv_bn(in_channels, out_channels, 2)
        self.conv_b = _relu_conv_bn(out_channels, out_channels, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


def _resolve_arch(arch: object, genotype: object) -> str:
    if arch is not None and genotype is not None:
        raise ConfigError("nb201: give arch= or genotype=, not both")
    if genotype is not None:
        return validate_nb201(read_genotype_json(genotype))["arch"]
    if arch is None:
        raise ConfigError("nb201: arch= is required (an arch string '|op~0|+|...|' or a benchmark index)")
    if isinstance(arch, int) and not isinstance(arch, bool):
        from cnnlab.nas.nb201_table import NB201Table

        return NB201Table.load().arch(arch)
    return format_arch(parse_arch(arch))


class NB201Network(ZooNet):
    """Stem (3x3 conv → BN) → [N cells] → reduction → [N cells] → reduction → [N cells] → BN → ReLU → pool → fc.

    Stage ``s`` starts with the residual reduction for ``s > 0``; every cell of the network has the same arch.
    """

    def __init__(self, arch: str | int | None = None, num_classes: int = 10, in_chans: int = 3, C: int = 16,
                 N: int = 5, genotype: dict[str, Any] | str | os.PathLike[str] | None = None) -> None:
        arch = _resolve_arch(arch, genotype)
        ops = parse_arch(arch)
        require_positive("C", C, "nb201")
        require_positive("N", N, "nb201")
        check_common("nb201", num_classes, in_chans, 0.0)
        widths = (C, 2 * C, 4 * C)
        stage_specs = [{"stage": s, "reduction": s > 0, "cells": N, "channels": c} for s, c in enumerate(widths)]
        stages = StageStack(C)
        for s, c in enumerate(widths):
            blocks = [ResidualReduction(widths[s - 1], c)] if s else []  # the residual reduction: stride 2
            stages.add(nn.Sequential(*blocks, *(NB201Cell(ops, c) for _ in range(N))), c, 2 if s else 1)
        head = ClassifierHead(widths[-1], num_classes, conv=nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU()))
        super().__init__(ConvNormAct(in_chans, C, 3, act_layer=None), stages, head,
                         stage_specs=stage_specs, in_chans=in_chans, min_size=4)
        self.arch = arch
        self.genotype = {"space": "nb201", "arch": arch}

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise ConfigError(f"NB201Network: input {tuple(x.shape[-2:])} must have sides divisible by 4 (each "
                              "residual reduction adds a stride-2 conv to a 2x2 pool, which agree only on even sizes)")


def nb201_paper_table(model: NB201Network) -> dict:
    """NB201 Fig. 1 (top): the macro skeleton — conv, cell × N, residual block, cell × N, residual block,
    cell × N, global average pooling and the classifier; ``C`` is a row's output channels."""
    rows = [table_row(f"{kernel(convs(model.stem)[0])} conv", ["stem"], cells={"C": model.stem.conv.out_channels})]
    for s, stage in enumerate(model.stages):
        blocks = list(stage)
        first = 1 if blocks and isinstance(blocks[0], ResidualReduction) else 0
        if first:
            rows.append(table_row("residual block, stride 2", [f"stages.{s}.0"],
                                  cells={"C": blocks[0].conv_b[1].conv.out_channels}))
        cells = [f"stages.{s}.{j}" for j in range(first, len(blocks))]
        if cells:
            rows.append(table_row(f"cell × {len(cells)}", cells, block=cells[0], repeats=len(cells),
                                  cells={"C": model.stage_specs[s]["channels"]}))
    rows.append(table_row("global avg pool, fc", ["head"]))
    return {"source": "Dong & Yang 2020, NAS-Bench-201, Fig. 1 (macro skeleton, CIFAR layout)", "rows": rows,
            "channels": False, "columns": [("layer", "name"), ("output size", "output size"), ("C", "C")]}


class NB201Space(SearchSpace):
    """One op token per edge of the cell, in arch-string order: 5^6 = 15,625 cells (the benchmark's table)."""

    name = "nb201"

    @classmethod
    def from_options(cls, **_: Any) -> NB201Space:
        return cls((len(NB201_OPS),) * len(NB201_EDGES), ("op",) * len(NB201_EDGES))

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        return {"space": "nb201", "arch": format_arch([NB201_OPS[t] for t in self.check_tokens(tokens)])}

    def encode(self, genotype: dict[str, Any]) -> list[int]:
        return [NB201_OPS.index(op) for op in parse_arch(validate_nb201(genotype)["arch"])]

    @classmethod
    def build(cls, genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1
              ) -> NB201Network:
        return NB201Network(genotype=genotype, num_classes=num_classes, in_chans=in_chans, C=C, N=N)

    def shape_flags(self, budget: Any) -> str:
        return f"--N {budget.N} "
