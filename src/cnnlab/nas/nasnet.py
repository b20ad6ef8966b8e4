"""A NASNet-style network: N normal cells, a reduction cell, N normal cells, a reduction cell,
N normal cells (Zoph et al. 2018, Fig. 2, CIFAR-10 layout); channels double at each reduction."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from cnnlab.arith.checks import require_non_negative, require_positive
from cnnlab.nas.cells import Cell
from cnnlab.nas.genotype import load_genotype
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet, check_common
from cnnlab.units import ConvNormAct

__all__ = ["NASNetwork"]


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
