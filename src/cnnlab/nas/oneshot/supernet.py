"""A single-path one-shot supernet over the NAS-Bench-201 cell space (Guo et al. 2020, "Single Path One-Shot
Neural Architecture Search with Uniform Sampling", ECCV, arXiv:1904.00420).

The macro skeleton is :class:`cnnlab.nas.nb201.NB201Network`'s (stem, three stages of N cells, residual
reductions, head); each cell edge holds all five candidate ops of the benchmark, each with its own weights
(:class:`MixedEdge`). A path is one op per edge, the same for every cell (NB201 shares the cell across the
network); only the ops of the active path run, so only they get gradients. :func:`inherit` copies a path's
weights into the stand-alone network of that cell, which then computes exactly what the supernet computes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.nb201 import _CNNLAB_OP, NB201Cell, NB201Network
from cnnlab.nas.nb201_arch import NB201_EDGES, NB201_OPS, format_arch, parse_arch
from cnnlab.nas.ops import make_op

__all__ = ["MixedEdge", "SuperCell", "NB201Supernet", "child_state_dict", "inherit"]

# a child's key of an edge op, e.g. "stages.1.2.edges.4.1.conv.weight" -> ("stages.1.2.edges.4", "1.conv.weight")
_EDGE_KEY = re.compile(r"^(stages\.\d+\.\d+\.edges\.\d+)\.(.+)$")


class MixedEdge(nn.Module):
    """One cell edge: the five NB201 candidate ops (``candidates[i]`` is ``NB201_OPS[i]``); runs the active one."""

    def __init__(self, channels: int, where: str) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(make_op(_CNNLAB_OP[op], channels, 1, where) for op in NB201_OPS)
        self.active = NB201_OPS.index("nor_conv_3x3")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.candidates[self.active](x)


class SuperCell(NB201Cell):
    """An NB201 cell (its forward: node j = Σ_{i<j} edge_ij(node i)) whose edges are :class:`MixedEdge`."""

    def __init__(self, channels: int) -> None:
        nn.Module.__init__(self)
        self.edges = nn.ModuleList(MixedEdge(channels, f"nb201 supernet edge {i}->{j}") for i, j in NB201_EDGES)

    @property
    def ops(self) -> tuple[str, ...]:  # NB201Cell's attribute: the active path of this cell
        return tuple(NB201_OPS[edge.active] for edge in self.edges)


class NB201Supernet(NB201Network):
    """NB201's network with every cell a :class:`SuperCell`; :meth:`set_arch` chooses the path all cells run.

    Built as the stand-alone network and then its cells swapped, so the stem, the reductions and the head are
    NB201Network's own modules under the same names (which :func:`inherit` relies on)."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, C: int = 16, N: int = 5) -> None:
        require_positive("C", C, "nb201 supernet")
        require_positive("N", N, "nb201 supernet")
        super().__init__(arch=format_arch(("nor_conv_3x3",) * len(NB201_EDGES)), num_classes=num_classes,
                         in_chans=in_chans, C=C, N=N)
        for s, stage in enumerate(self.stages):
            for b, block in enumerate(stage):
                if isinstance(block, NB201Cell):
                    stage[b] = SuperCell(self.stage_specs[s]["channels"])
        self.C, self.N = C, N
        self.set_arch(self.arch)

    def cells(self) -> list[SuperCell]:
        return [m for m in self.modules() if isinstance(m, SuperCell)]

    def set_arch(self, arch: str | Sequence[str]) -> str:
        """Make ``arch`` (an arch string or six edge ops) the active path of every cell; its arch string."""
        ops = parse_arch(arch, "nb201 supernet arch") if isinstance(arch, str) else tuple(arch)
        arch = format_arch(ops)  # checks six known ops
        for cell in self.cells():
            for edge, op in zip(cell.edges, ops, strict=True):
                edge.active = NB201_OPS.index(op)
        self.arch = arch
        self.genotype = {"space": "nb201", "arch": arch}
        return arch

    def sample_arch(self, rng: np.random.Generator) -> str:
        """Uniform sampling (SPOS, Sec. 3.2): each edge's op drawn uniformly; the path becomes active."""
        return self.set_arch([NB201_OPS[int(i)] for i in rng.integers(len(NB201_OPS), size=len(NB201_EDGES))])

    def active_parameters(self) -> list[nn.Parameter]:
        """The parameters the active path uses: every one outside the cells, and the active candidates'."""
        inactive = {id(p) for cell in self.cells() for edge in cell.edges
                    for i, op in enumerate(edge.candidates) if i != edge.active for p in op.parameters()}
        return [p for p in self.parameters() if id(p) not in inactive]


def _child(supernet: NB201Supernet, arch: str) -> NB201Network:
    if not isinstance(supernet, NB201Supernet):
        raise ConfigError(f"expected an NB201Supernet, got {type(supernet).__name__}")
    return NB201Network(arch=format_arch(parse_arch(arch, "nb201 child arch")), num_classes=supernet.num_classes,
                        in_chans=supernet.in_chans, C=supernet.C, N=supernet.N)


def _path_state(supernet: NB201Supernet, arch: str, keys: list[str]) -> dict[str, torch.Tensor]:
    ops = parse_arch(arch, "nb201 child arch")
    source = supernet.state_dict()
    state = {}
    for key in keys:
        match = _EDGE_KEY.match(key)
        if match is None:
            state[key] = source[key]
            continue
        edge = int(match.group(1).rsplit(".", 1)[1])
        state[key] = source[f"{match.group(1)}.candidates.{NB201_OPS.index(ops[edge])}.{match.group(2)}"]
    return state


def child_state_dict(supernet: NB201Supernet, arch: str) -> dict[str, torch.Tensor]:
    """The state dict of ``NB201Network(arch)`` (same C, N, classes, channels) taken from the supernet:
    an edge's ``edges.k.<rest>`` is the supernet's ``edges.k.candidates.<op of edge k>.<rest>``."""
    return _path_state(supernet, arch, list(_child(supernet, arch).state_dict()))


def inherit(supernet: NB201Supernet, arch: str) -> NB201Network:
    """The stand-alone network of ``arch`` with the supernet's weights and BN buffers (copies, not views)."""
    child = _child(supernet, arch)
    child.load_state_dict(_path_state(supernet, arch, list(child.state_dict())))  # load_state_dict copies
    return child.to(next(supernet.parameters()).device)
