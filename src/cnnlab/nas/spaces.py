"""The search spaces by name: :data:`SPACES` maps each to its class, defined next to its network
(:class:`cnnlab.nas.space_base.SearchSpace` says what a space offers)."""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnlab.arith.checks import require_choice
from cnnlab.errors import ConfigError
from cnnlab.nas.micro import MicroSpace
from cnnlab.nas.nasnet import MAX_BLOCKS, NASNetSpace
from cnnlab.nas.nb201 import NB201Space
from cnnlab.nas.ops import LECTURE_OPS
from cnnlab.nas.randwire import MAX_NODES, MIN_NODES, RandWireSpace
from cnnlab.nas.space_base import SearchSpace

__all__ = ["SPACES", "SPACE_NAMES", "MAX_BLOCKS", "MIN_NODES", "MAX_NODES", "SearchSpace", "make_space",
           "build_network"]

SPACES: dict[str, type[SearchSpace]] = {"nasnet": NASNetSpace, "randwire": RandWireSpace, "micro": MicroSpace,
                                        "nb201": NB201Space}
SPACE_NAMES = tuple(SPACES)


def make_space(name: str, blocks: int = 5, ops: tuple[str, ...] = LECTURE_OPS, nodes: int = 8) -> SearchSpace:
    """``nasnet`` (2 cells × ``blocks`` × 4 tokens), ``randwire`` (generator, P, M, K, seed; ``nodes``
    per stage), ``micro`` (3 edges × 5 ops) or ``nb201`` (6 edges × 5 ops, NAS-Bench-201)."""
    require_choice("space", name, SPACE_NAMES, "search")
    return SPACES[name].from_options(blocks=blocks, ops=ops, nodes=nodes)


def build_network(genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1) -> nn.Module:
    """A child network for a genotype of any space, sized for small (8x8 … 32x32) images."""
    space = genotype.get("space") if isinstance(genotype, dict) else None
    if space not in SPACES:
        raise ConfigError(f"genotype 'space' must be one of {list(SPACE_NAMES)}, got {space!r}")
    return SPACES[space].build(genotype, num_classes=num_classes, in_chans=in_chans, C=C, N=N)
