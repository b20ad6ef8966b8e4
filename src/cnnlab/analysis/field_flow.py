"""How receptive fields flow through ops that have no window: element-wise ops, merges, layout changes.

A tensor carries a field together with the positions of its two spatial axes (negative indices, so
``(-2, -1)`` for NCHW). An op passes a field on when its output keeps those axes at the same sizes;
several such inputs (add, concat, mul) are merged with :func:`cnnlab.analysis.field.merge`. An input
that depends on the image but has no field any more (squeeze-excitation, global attention) is
"global context": the true field of the result is then the whole input, which is noted.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from cnnlab.analysis import field as rf

__all__ = ["Carried", "NCHW", "flow", "permuted"]

NCHW = (-2, -1)


@dataclass(frozen=True)
class Carried:
    """A tensor's receptive field and the positions of its (h, w) axes."""

    field: rf.Field
    axes: tuple[int, int] = NCHW


def _keeps_axes(value: Tensor, out: Tensor, axes: tuple[int, int]) -> bool:
    if out.dim() < 2 or -min(axes) > out.dim():
        return False
    return value.shape[axes[0]] == out.shape[axes[0]] and value.shape[axes[1]] == out.shape[axes[1]]


def flow(inputs: list[tuple[Tensor, Carried | None, bool]], out: Tensor) -> tuple[Carried | None, list[str]]:
    """Generic rule. ``inputs``: (tensor, its carried field or None, whether it depends on the image)."""
    carriers: list[Carried] = []
    global_context = False
    for value, carried, depends in inputs:
        if carried is not None and _keeps_axes(value, out, carried.axes):
            carriers.append(carried)
        elif depends and carried is None and value.dim() >= 2:
            global_context = True
    if not carriers:
        return None, []
    notes = []
    result = carriers[0]
    if len(carriers) > 1:
        merged, problem = rf.merge([c.field for c in carriers])
        result = Carried(merged, carriers[0].axes)
        if problem:
            notes.append(problem)
    if global_context:
        notes.append("global context merged here: the true receptive field from here on is the whole input")
    return result, notes


def permuted(carried: Carried, in_ndim: int, dims: list[int]) -> Carried:
    """Field after ``permute(dims)``: the spatial axes move with the permutation."""
    order = [d % in_ndim for d in dims]
    new_axes = tuple(order.index(a % in_ndim) - in_ndim for a in carried.axes)
    return Carried(carried.field, (new_axes[0], new_axes[1]))


def transposed_axes(carried: Carried, in_ndim: int, d0: int, d1: int) -> Carried:
    """Field after ``transpose(d0, d1)``."""
    dims = list(range(in_ndim))
    a, b = d0 % in_ndim, d1 % in_ndim
    dims[a], dims[b] = dims[b], dims[a]
    return permuted(carried, in_ndim, dims)
