"""A NASNet-style network: N normal cells, a reduction cell, N normal cells, a reduction cell,
N normal cells (Zoph et al. 2018, Fig. 2, CIFAR-10 layout); channels double at each reduction. Its search
space: two cells of ``blocks`` blocks, each block two inputs and two ops (4 tokens)."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from cnnlab.arith.checks import require_int, require_non_negative, require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.cells import Cell
from cnnlab.nas.genotype import CELL_KINDS, load_genotype, validate_genotype
from cnnlab.nas.ops import LECTURE_OPS
from cnnlab.nas.space_base import SearchSpace
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet, check_common
from cnnlab.units import ConvNormAct

__all__ = ["MAX_BLOCKS", "NASNetwork", "NASNetSpace"]

# NASNet, PNAS and ENAS cells have B=5 blocks (Zoph et al. 2018, Sec. 3); each block adds 8 tokens and
# 4 ops per cell pair, and a child with 16 blocks per cell already takes ~0.3 s just to build
MAX_BLOCKS = 16


class _CellStage(nn.Sequential):
    """A stage of cells. Inside it each cell reads the two previous cells' outputs; the first cell
    reads the stage input twice, so a stage maps one tensor to one tensor like any zoo stage."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        s0, s1 = x, x
        for cell in self:
            s0, s1 = s1, cell(s0, s1)
        return s1


class NASNetwork(ZooNet):
    """Stem → 3 stages of cells → ReLU → global average pool → dropout → linear.

    ``C``: channels of each op in the first stage; ``N``: normal cells per stage;
    ``stem_multiplier``: stem channels = ``stem_multiplier * C``.
    """

    def __init__(
        self,
        genotype: dict[str, Any] | str | os.PathLike[str],
        num_classes: int = 10,
        in_chans: int = 3,
        C: int = 16,
        N: int = 2,
        stem_multiplier: int = 3,
        drop_rate: float = 0.0,
    ) -> None:
        genotype = load_genotype(genotype)
        require_positive("C", C, "nasnet")
        require_non_negative("N", N, "nasnet")
        check_common("nasnet", num_classes, in_chans, drop_rate)
        stem_channels = stem_multiplier * C
        stem = ConvNormAct(in_chans, stem_channels, 3, act_layer=None)
        stage_specs = [{"stage": s, "reduction_cell": s > 0, "normal_cells": N, "channels": C * 2**s}
                       for s in range(3)]
        prev_prev, prev, prev_reduced = stem_channels, stem_channels, False
        stages = StageStack(stem_channels)
        for spec in stage_specs:
            cells = []
            for kind in ["reduction"] * spec["reduction_cell"] + ["normal"] * N:
                if not cells:  # the first cell of a stage reads the stage input twice
                    prev_prev, prev_reduced = prev, False
                cell = Cell(genotype[kind], prev_prev, prev, spec["channels"],
                            reduction=kind == "reduction", prev_prev_is_larger=prev_reduced)
                cells.append(cell)
                prev_reduced = kind == "reduction"
                prev_prev, prev = prev, cell.out_channels
            stages.add(_CellStage(*cells), prev, 2 if spec["reduction_cell"] else 1)
        head = ClassifierHead(prev, num_classes, drop_rate, conv=nn.ReLU())
        super().__init__(stem, stages, head, stage_specs=stage_specs, in_chans=in_chans)
        self.genotype = genotype


class NASNetSpace(SearchSpace):
    """2 cells × ``blocks`` blocks × (input, input, op, op) tokens; ops from ``ops`` (the lecture's 13)."""

    name = "nasnet"

    @classmethod
    def from_options(cls, blocks: int = 5, ops: tuple[str, ...] = LECTURE_OPS, **_: Any) -> NASNetSpace:
        blocks = require_int("--blocks", blocks, "nasnet space")
        if not 1 <= blocks <= MAX_BLOCKS:
            raise ConfigError(f"nasnet space: --blocks must be in 1..{MAX_BLOCKS} blocks per cell, got {blocks} "
                              "(NASNet uses 5)")
        choices, kinds = [], []
        for _kind in CELL_KINDS:
            for b in range(blocks):
                choices += [2 + b, 2 + b, len(ops), len(ops)]
                kinds += ["input", "input", "op", "op"]
        return cls(tuple(choices), tuple(kinds), {"blocks": blocks, "ops": tuple(ops)})

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        tokens = self.check_tokens(tokens)
        ops, per_cell = self.settings["ops"], 4 * self.settings["blocks"]
        genotype: dict[str, Any] = {"space": "nasnet"}
        for c, kind in enumerate(CELL_KINDS):
            cell = tokens[c * per_cell:(c + 1) * per_cell]
            genotype[kind] = [
                {"inputs": [cell[4 * b], cell[4 * b + 1]], "ops": [ops[cell[4 * b + 2]], ops[cell[4 * b + 3]]]}
                for b in range(self.settings["blocks"])
            ]
        return genotype

    def encode(self, genotype: dict[str, Any]) -> list[int]:
        g, ops = validate_genotype(genotype), self.settings["ops"]
        tokens = []
        for kind in CELL_KINDS:
            if len(g[kind]) != self.settings["blocks"]:
                raise ConfigError(f"genotype {kind} cell has {len(g[kind])} blocks, the space {self.settings['blocks']}")
            for b, block in enumerate(g[kind]):
                for op in block["ops"]:
                    if op not in ops:
                        raise ConfigError(f"genotype {kind} cell block {b}: op {op!r} is not in this space")
                tokens += [*block["inputs"], *(ops.index(o) for o in block["ops"])]
        return tokens

    @classmethod
    def build(cls, genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1) -> NASNetwork:
        return NASNetwork(genotype, num_classes=num_classes, in_chans=in_chans, C=C, N=N)

    def shape_flags(self, budget: Any) -> str:
        return f"--blocks {self.settings['blocks']} --N {budget.N} "
