"""Search spaces as token sequences: every strategy sees an architecture as a list of integers,
token ``i`` one of ``choices[i]`` options (the controller's "token by token" view, Zoph & Le 2017).
A space decodes tokens to a plain-JSON genotype, encodes a genotype back, and builds its network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from cnnlab.arith.checks import require_choice, require_int
from cnnlab.errors import ConfigError
from cnnlab.nas.genotype import CELL_KINDS, validate_genotype
from cnnlab.nas.micro import MICRO_EDGES, MICRO_OPS, MicroNet, validate_micro
from cnnlab.nas.nasnet import NASNetwork
from cnnlab.nas.ops import LECTURE_OPS
from cnnlab.nas.randwire import GRAPH_MODELS, RandWireNet, validate_wiring

__all__ = ["SPACE_NAMES", "MAX_BLOCKS", "MIN_NODES", "MAX_NODES", "SearchSpace", "make_space", "build_network"]

SPACE_NAMES = ("nasnet", "randwire", "micro")
# NASNet, PNAS and ENAS cells have B=5 blocks (Zoph et al. 2018, Sec. 3); each block adds 8 tokens and
# 4 ops per cell pair, and a child with 16 blocks per cell already takes ~0.3 s just to build
MAX_BLOCKS = 16
# a stage needs 2 nodes for a graph to have an edge; Xie et al. 2019 use N=32 (Sec. 4), 4x that is
# the cap (an N=128 child takes seconds to build and inspect before it trains at all)
MIN_NODES, MAX_NODES = 2, 128
RANDWIRE_P = (0.1, 0.25, 0.5, 0.75, 0.9)
RANDWIRE_M = (1, 2, 3, 4, 5)
RANDWIRE_K = (2, 4, 6)
RANDWIRE_SEEDS = (0, 1, 2, 3)


@dataclass(frozen=True)
class SearchSpace:
    """``choices[i]`` options for token ``i``; ``kinds[i]`` says what it picks ('op', 'input', ...)."""

    name: str
    choices: tuple[int, ...]
    kinds: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        total = 1
        for c in self.choices:
            total *= c
        return total

    def check_tokens(self, tokens: list[int]) -> list[int]:
        if len(tokens) != len(self.choices) or any(
            not 0 <= int(t) < c for t, c in zip(tokens, self.choices, strict=False)
        ):
            raise ConfigError(f"{self.name} space: tokens {tokens!r} do not fit choices {list(self.choices)}")
        return [int(t) for t in tokens]

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        tokens = self.check_tokens(tokens)
        if self.name == "nasnet":
            ops, per_cell = self.settings["ops"], 4 * self.settings["blocks"]
            genotype: dict[str, Any] = {"space": "nasnet"}
            for c, kind in enumerate(CELL_KINDS):
                cell = tokens[c * per_cell:(c + 1) * per_cell]
                genotype[kind] = [
                    {"inputs": [cell[4 * b], cell[4 * b + 1]], "ops": [ops[cell[4 * b + 2]], ops[cell[4 * b + 3]]]}
                    for b in range(self.settings["blocks"])
                ]
            return genotype
        if self.name == "micro":
            return {"space": "micro", "edges": [MICRO_OPS[t] for t in tokens]}
        graph, p, m, k, seed = tokens
        genotype = {"space": "randwire", "graph": GRAPH_MODELS[graph], "nodes": self.settings["nodes"],
                    "seed": RANDWIRE_SEEDS[seed]}
        if GRAPH_MODELS[graph] in ("ER", "WS"):
            genotype["P"] = RANDWIRE_P[p]
        if GRAPH_MODELS[graph] == "BA":
            genotype["M"] = min(RANDWIRE_M[m], self.settings["nodes"] - 1)
        if GRAPH_MODELS[graph] == "WS":
            genotype["K"] = min(RANDWIRE_K[k], self.settings["nodes"] - 1)
        return genotype

    def encode(self, genotype: dict[str, Any]) -> list[int]:
        if self.name == "nasnet":
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
        if self.name == "micro":
            return [MICRO_OPS.index(op) for op in validate_micro(genotype)["edges"]]
        g = validate_wiring(genotype)
        nearest = lambda values, v: min(range(len(values)), key=lambda i: abs(values[i] - v))  # noqa: E731
        return [GRAPH_MODELS.index(g["graph"]), nearest(RANDWIRE_P, g.get("P", 0.5)),
                nearest(RANDWIRE_M, g.get("M", 1)), nearest(RANDWIRE_K, g.get("K", 2)),
                nearest(RANDWIRE_SEEDS, g["seed"])]


def make_space(name: str, blocks: int = 5, ops: tuple[str, ...] = LECTURE_OPS, nodes: int = 8) -> SearchSpace:
    """``nasnet`` (2 cells × ``blocks`` × 4 tokens), ``randwire`` (generator, P, M, K, seed; ``nodes``
    per stage) or ``micro`` (3 edges × 5 ops)."""
    require_choice("space", name, SPACE_NAMES, "search")
    if name == "nasnet":
        blocks = require_int("--blocks", blocks, "nasnet space")
        if not 1 <= blocks <= MAX_BLOCKS:
            raise ConfigError(f"nasnet space: --blocks must be in 1..{MAX_BLOCKS} blocks per cell, got {blocks} "
                              "(NASNet uses 5)")
        choices, kinds = [], []
        for _ in CELL_KINDS:
            for b in range(blocks):
                choices += [2 + b, 2 + b, len(ops), len(ops)]
                kinds += ["input", "input", "op", "op"]
        return SearchSpace("nasnet", tuple(choices), tuple(kinds), {"blocks": blocks, "ops": tuple(ops)})
    if name == "micro":
        return SearchSpace("micro", (len(MICRO_OPS),) * len(MICRO_EDGES), ("op",) * len(MICRO_EDGES))
    nodes = require_int("--nodes", nodes, "randwire space")
    if not MIN_NODES <= nodes <= MAX_NODES:
        raise ConfigError(f"randwire space: --nodes must be in {MIN_NODES}..{MAX_NODES} nodes per stage, got "
                          f"{nodes} (Xie et al. use 32)")
    return SearchSpace(
        "randwire",
        (len(GRAPH_MODELS), len(RANDWIRE_P), len(RANDWIRE_M), len(RANDWIRE_K), len(RANDWIRE_SEEDS)),
        ("graph", "P", "M", "K", "seed"),
        {"nodes": nodes},
    )


def build_network(genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1) -> nn.Module:
    """A child network for a genotype of any space, sized for small (8x8 … 32x32) images."""
    space = genotype.get("space") if isinstance(genotype, dict) else None
    if space == "nasnet":
        return NASNetwork(genotype, num_classes=num_classes, in_chans=in_chans, C=C, N=N)
    if space == "randwire":
        return RandWireNet(genotype, num_classes=num_classes, in_chans=in_chans, C=C,
                           stem_strides=(1, 1), head_channels=8 * C)
    if space == "micro":
        return MicroNet(genotype, num_classes=num_classes, in_chans=in_chans, C=C)
    raise ConfigError(f"genotype 'space' must be one of {list(SPACE_NAMES)}, got {space!r}")
