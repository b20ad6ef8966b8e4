"""SynFlow of NAS-Bench-201 networks by one float32 forward pass: the same number as
:func:`cnnlab.nas.proxies.synflow` (float64, autograd) in a fraction of the time, for scoring all 15,625 cells.

Why one forward pass is enough. With |θ|, BatchNorm off and a positive input, every activation of an NB201 network
is ≥ 0: each ReLU is the identity and the network is linear in its input and multilinear in its weights. Then
SynFlow = Σ |θ ⊙ ∂R/∂θ| = Σ θ ∂R/∂θ is the derivative of R along the direction θ, which a forward pass carries as a
second image: a conv or linear layer maps (v, t) to (Wv + b, W(v + t)); the other ops (sums, average pools,
identity, zero) are linear and map both alike. The pass runs in float32 on an input of 2⁻⁸⁰ instead of 1: every
activation and the score scale by it exactly (a power of two; the one bias, the classifier's, scaled with it), which
keeps the ~1e49 scores of the deepest cells within float32's range.

The network is the one :class:`cnnlab.nas.nb201.NB201Network` builds, written as functions of its weights, and
:func:`nb201_weights` draws those weights exactly as building it does (PyTorch's default initialisation, in the order
its modules are made), so that ``nb201_synflow(ops, nb201_weights(ops))`` after ``torch.manual_seed(s)`` equals
``synflow(create_model("nb201", ...))`` after the same seed; the tests hold both equalities.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlab.nas.nb201_arch import NB201_EDGES

__all__ = ["NB201Weights", "nb201_weights", "weights_of", "nb201_synflow", "flat_weights"]

_SCALE = 2.0**-80
_KERNEL = {"nor_conv_3x3": 3, "nor_conv_1x1": 1}


@dataclass
class NB201Weights:
    """The weights of one NB201 network: ``stem`` conv; per stage, the residual reduction's (conv_a, conv_b,
    shortcut) convs (None in stage 0) and per cell one conv weight per edge (None for weightless ops);
    ``fc`` = (weight, bias)."""

    stem: Tensor
    reductions: list[tuple[Tensor, Tensor, Tensor] | None]
    cells: list[list[list[Tensor | None]]]
    fc: tuple[Tensor, Tensor]


def _conv_weight(cout: int, cin: int, k: int) -> Tensor:
    w = torch.empty(cout, cin, k, k)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))  # nn.Conv2d.reset_parameters
    return w


def nb201_weights(ops: tuple[str, ...], num_classes: int = 10, C: int = 16, N: int = 5, in_chans: int = 3
                  ) -> NB201Weights:
    """Draw the weights of the network of cell ``ops`` from the global random state as
    ``NB201Network(...)`` does: stage by stage (the reduction's conv_a, conv_b and shortcut, then the cells' conv
    edges in arch-string order), then the classifier (weight, bias), then the stem."""
    widths = (C, 2 * C, 4 * C)
    reductions: list[tuple[Tensor, Tensor, Tensor] | None] = []
    cells: list[list[list[Tensor | None]]] = []
    for s, c in enumerate(widths):
        if s:
            cin = widths[s - 1]
            reductions.append((_conv_weight(c, cin, 3), _conv_weight(c, c, 3), _conv_weight(c, cin, 1)))
        else:
            reductions.append(None)
        cells.append([[_conv_weight(c, c, _KERNEL[op]) if op in _KERNEL else None for op in ops] for _ in range(N)])
    fc = nn.Linear(widths[-1], num_classes)  # nn.Linear.reset_parameters: weight, then bias
    stem = _conv_weight(C, in_chans, 3)
    return NB201Weights(stem, reductions, cells, (fc.weight.detach(), fc.bias.detach()))


def weights_of(net: nn.Module) -> NB201Weights:
    """The weights of a built :class:`~cnnlab.nas.nb201.NB201Network`, in the layout of :func:`nb201_weights`."""
    from cnnlab.nas.nb201 import NB201Cell, ResidualReduction

    reductions, cells = [], []
    for stage in net.stages:
        blocks = list(stage)
        if isinstance(blocks[0], ResidualReduction):
            r = blocks.pop(0)
            reductions.append((r.conv_a[1].conv.weight, r.conv_b[1].conv.weight, r.shortcut[1].weight))
        else:
            reductions.append(None)
        cells.append([[_edge_weight(edge) for edge in cell.edges] for cell in blocks if isinstance(cell, NB201Cell)])
    fc = net.head.fc
    return NB201Weights(net.stem.conv.weight, reductions, cells, (fc.weight, fc.bias))


def _edge_weight(edge: nn.Module) -> Tensor | None:
    convs = [m for m in edge.modules() if isinstance(m, nn.Conv2d)]
    return convs[0].weight if convs else None


def _conv(x: Tensor, w: Tensor, stride: int = 1) -> Tensor:
    """(v, t) → (Wv, W(v + t)) for a conv without bias, 'same' padding."""
    return F.conv2d(torch.cat([x[:1], x[:1] + x[1:]]), w, None, stride, w.shape[-1] // 2)


@functools.lru_cache(maxsize=8)
def _window_counts(height: int, width: int) -> Tensor:
    """How many pixels of each 3x3 window lie inside an H x W image (9 inside, 6 on an edge, 4 at a corner)."""
    rows = torch.full((height,), 3.0)
    cols = torch.full((width,), 3.0)
    rows[[0, -1]] -= 1
    cols[[0, -1]] -= 1
    return rows[:, None] * cols[None, :]


def _avg_pool_3x3(x: Tensor) -> Tensor:
    """``F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)`` as shifted sums (5x faster on CPU at these sizes)."""
    p = F.pad(x, (1, 1, 1, 1))
    h = p[..., :-2] + p[..., 1:-1] + p[..., 2:]
    return (h[..., :-2, :] + h[..., 1:-1, :] + h[..., 2:, :]) / _window_counts(x.shape[-2], x.shape[-1])


def _cell(x: Tensor, ops: tuple[str, ...], weights: list[Tensor | None]) -> Tensor:
    nodes = [x]
    for node in (1, 2, 3):
        total = torch.zeros_like(x)
        for k, (i, j) in enumerate(NB201_EDGES):
            if j != node or ops[k] == "none":
                continue
            if ops[k] == "skip_connect":
                total = total + nodes[i]
            elif ops[k] == "avg_pool_3x3":
                total = total + _avg_pool_3x3(nodes[i])
            else:
                total = total + _conv(nodes[i], weights[k])
        nodes.append(total)
    return nodes[3]


def _abs(w: Tensor | None) -> Tensor | None:
    return None if w is None else w.detach().abs().float()


def nb201_synflow(ops: tuple[str, ...], weights: NB201Weights, image_size: int = 32) -> float:
    """SynFlow of the NB201 network of cell ``ops`` with ``weights`` at a 3 x ``image_size``² input (BatchNorm
    off, |θ|; see the module's docstring). The weights are not modified."""
    with torch.no_grad():
        x = torch.zeros(2, weights.stem.shape[1], image_size, image_size)
        x[0] = _SCALE
        x = _conv(x, _abs(weights.stem))
        for reduction, stage_cells in zip(weights.reductions, weights.cells, strict=True):
            if reduction is not None:
                wa, wb, ws = (_abs(w) for w in reduction)
                x = _conv(F.avg_pool2d(x, 2, 2), ws) + _conv(_conv(x, wa, 2), wb)
            for cell_weights in stage_cells:
                x = _cell(x, ops, [_abs(w) for w in cell_weights])
        pooled = x.mean(dim=(2, 3))  # BatchNorm off, ReLU the identity, global average pool
        fc_w, fc_b = (_abs(w) for w in weights.fc)
        out = F.linear(torch.cat([pooled[:1], pooled[:1] + pooled[1:]]), fc_w)
        out[:1] += fc_b * _SCALE
    return float(out[1].double().sum()) / _SCALE


def flat_weights(weights: NB201Weights) -> list[Tensor | None]:
    """Every weight of ``weights`` in one list (None for the weightless edges), stem first."""
    out: list[Tensor | None] = [weights.stem]
    for reduction, stage_cells in zip(weights.reductions, weights.cells, strict=True):
        out += list(reduction or ())
        for cell_weights in stage_cells:
            out += cell_weights
    return out + list(weights.fc)
