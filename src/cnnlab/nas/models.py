"""NAS networks in the model zoo: ``nasnet`` (any genotype; NASNet-A's cells by default),
``randwire_small`` (Xie et al. 2019, Table 1 small regime: WS(4, 0.75), N=32, C=78),
``randwire_tiny`` (the same design sized for 8x8 … 28x28 grey images on a CPU) and ``nb201``
(the NAS-Bench-201 network of any of its 15,625 cells; the CIFAR-10 optimum of its table by default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cnnlab.nas.genotype import read_genotype_json
from cnnlab.nas.nasnet import NASNetwork
from cnnlab.nas.nb201 import NB201Network, nb201_paper_table
from cnnlab.nas.randwire import RandWireNet
from cnnlab.nets.paper_table import convs, kernel, table_row
from cnnlab.nets.registry import register_model

__all__ = ["NASNET_A", "WS_BEST", "NB201_C10_BEST", "nasnet", "nasnet_paper_table", "randwire_small",
           "randwire_tiny", "nb201"]

# NASNet-A normal and reduction cells (Zoph et al. 2018, Fig. 4); input 0 = h_{i-1}, 1 = h_i.
NASNET_A = Path(__file__).with_name("nasnet_a.json")
WS_BEST = {"space": "randwire", "graph": "WS", "K": 4, "P": 0.75, "seed": 0}  # Xie et al., Sec. 4.1

# the CIFAR-10 optimum of the NAS-Bench-201 table (index 6111, 94.37 %; README of the table)
NB201_C10_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"

Genotype = dict[str, Any] | str | os.PathLike[str] | None


@register_model(family="nas", paper="Zoph et al. 2018, Learning Transferable Architectures (NASNet)")
def nasnet(genotype: Genotype = None, num_classes: int = 1000, in_chans: int = 3, C: int = 16, N: int = 2,
           stem_multiplier: int = 3, drop_rate: float = 0.0) -> NASNetwork:
    """A NASNet-style network from a genotype (dict, JSON file or JSON string); NASNet-A by default."""
    model = NASNetwork(NASNET_A if genotype is None else genotype, num_classes=num_classes,
                       in_chans=in_chans, C=C, N=N, stem_multiplier=stem_multiplier, drop_rate=drop_rate)
    model.paper_table = nasnet_paper_table
    return model


def nasnet_paper_table(model: NASNetwork) -> dict:
    """Fig. 2 of Zoph et al. 2018 (CIFAR-10 layout) as rows: the 3x3 conv stem, then each stage's
    reduction cell and its "Normal Cell × N", then the classifier; filters are a cell's per-op channels
    and its output (a concatenation) is ``filters × concatenated states``."""
    stem = convs(model.stem)[0]
    rows = [table_row(f"{kernel(stem)} conv", ["stem"],
                      cells={"filters": stem.out_channels})]
    for s, stage in enumerate(model.stages):
        cells = list(stage)
        first = 1 if cells and cells[0].reduction else 0
        if first:
            rows.append(table_row("Reduction Cell", [f"stages.{s}.0"], channels=cells[0].out_channels,
                                  cells={"filters": convs(cells[0].pre1)[0].out_channels}))
        normal = [f"stages.{s}.{j}" for j in range(first, len(cells))]
        if normal:
            rows.append(table_row(f"Normal Cell × {len(normal)}", normal, block=normal[0], repeats=len(normal),
                                  channels=cells[-1].out_channels,
                                  cells={"filters": convs(cells[-1].pre1)[0].out_channels}))
    rows.append(table_row("classifier", ["head"]))
    return {"source": "Zoph et al. 2018, Learning Transferable Architectures, Fig. 2 (CIFAR-10 layout)",
            "rows": rows, "channels": True,
            "columns": [("layer", "name"), ("output size", "output size"), ("filters", "filters")]}


@register_model(family="nas", paper="Xie et al. 2019, Randomly Wired Networks, small regime")
def randwire_small(genotype: Genotype = None, num_classes: int = 1000, in_chans: int = 3,
                   C: int = 78, nodes: int = 32, drop_rate: float = 0.0) -> RandWireNet:
    """RandWire-WS small regime (Xie et al. 2019, Tables 1-2: N=32, C=78, ~5.6M params)."""
    return RandWireNet({**WS_BEST, "nodes": nodes} if genotype is None else read_genotype_json(genotype),
                       num_classes=num_classes, in_chans=in_chans,
                       C=C, stem_strides=(2, 2), head_channels=1280, drop_rate=drop_rate)


@register_model(family="nas", paper="Xie et al. 2019, Randomly Wired Networks, CPU-size config")
def randwire_tiny(genotype: Genotype = None, num_classes: int = 10, in_chans: int = 1,
                  C: int = 8, nodes: int = 8, drop_rate: float = 0.0) -> RandWireNet:
    """RandWire-WS for small grey images on a CPU: stride-1 stem, 8 nodes per stage, C=8."""
    return RandWireNet({**WS_BEST, "nodes": nodes} if genotype is None else read_genotype_json(genotype),
                       num_classes=num_classes, in_chans=in_chans,
                       C=C, stem_strides=(1, 1), head_channels=64, drop_rate=drop_rate)


@register_model(family="nas", paper="Dong & Yang 2020, NAS-Bench-201 (Fig. 1, the benchmark's infer.tiny network)")
def nb201(arch: str | int | None = None, genotype: Genotype = None, num_classes: int = 10, in_chans: int = 3,
          C: int = 16, N: int = 5) -> NB201Network:
    """The NAS-Bench-201 network of a cell: ``arch`` an arch string or a benchmark index, or ``genotype``
    ``{"space": "nb201", "arch": ...}`` (dict, JSON file or string); the CIFAR-10 optimum by default."""
    if arch is None and genotype is None:
        arch = NB201_C10_BEST
    model = NB201Network(arch, num_classes=num_classes, in_chans=in_chans, C=C, N=N, genotype=genotype)
    model.paper_table = nb201_paper_table
    return model
