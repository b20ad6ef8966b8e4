"""The receptive field a tensor carries, and how it flows through one op.

A tensor that still has the input's spatial positions carries a :class:`SpatialField`: for each input axis
(height, width, ...) the tensor dim that holds it, the theoretical field of every unit
(:class:`cnnlab.arith.field.AxisField`, exact, periodic) and a lazy :class:`ImageMap` that gives, per unit,
the input pixels really inside the image that influence it (zero padding reads nothing, reflect padding
re-reads the border, interpolation clamps) — what a gradient sees. The image boxes are computed only when
asked (``ReceptiveField.image_box``), with numpy, from the recorded graph of samplings.

:func:`propagate` applies one op's field rule (:mod:`cnnlab.analysis.rules.base`): a tuple of samplings,
``PASS``, ``END``, ``Mixes``, ``Permute``, ``Concat``, or ``None`` (decide from the shapes). Inputs that
depend on the image but carry no field any more (squeeze-excitation's pooled vector) are *global context*:
the result keeps the local field and a note says the true field is the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from cnnlab.analysis.rules.base import END, PASS, Concat, Mixes, Permute
from cnnlab.arith.field import INPUT_AXIS, AxisField
from cnnlab.arith.sampling import Sampling

__all__ = ["SpatialField", "ImageMap", "input_field", "propagate", "GLOBAL_CONTEXT"]

GLOBAL_CONTEXT = "global context merged here: the true receptive field from here on is the whole input"
_EMPTY = np.iinfo(np.int64).max // 4  # lo of a unit that reads no pixel (hi is -_EMPTY)


class ImageMap:
    """Per input axis, the first and last image pixel influencing each unit; computed on demand."""

    def __init__(self, sizes: tuple[int, ...], parents: tuple[ImageMap, ...] = (),
                 samplings: tuple[Sampling | None, ...] | None = None, concat_axis: int | None = None) -> None:
        self.sizes, self.parents, self.samplings, self.concat_axis = sizes, parents, samplings, concat_axis
        self._arrays: list[tuple[np.ndarray, np.ndarray]] | None = None

    def arrays(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(lo, hi), ...]`` per axis; a unit reading no pixel has ``lo > hi``."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:  # post-order over the graph, without recursion (networks are deep)
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen and node._arrays is None:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        for node in order:
            node._arrays = node._compute()
        return self._arrays  # type: ignore[return-value]

    def _compute(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if not self.parents:
            return [(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)) for n in self.sizes]
        if self.samplings is not None:
            return [_sample(arr, op, n) for arr, op, n in
                    zip(self.parents[0]._arrays, self.samplings, self.sizes, strict=True)]  # type: ignore[arg-type]
        if self.concat_axis is not None:
            out = []
            for axis in range(len(self.sizes)):
                parts = [p._arrays[axis] for p in self.parents]  # type: ignore[index]
                if axis == self.concat_axis:
                    out.append((np.concatenate([lo for lo, _ in parts]), np.concatenate([hi for _, hi in parts])))
                else:
                    out.append((np.minimum.reduce([lo for lo, _ in parts]), np.maximum.reduce([hi for _, hi in parts])))
            return out
        arrays = [p._arrays for p in self.parents]  # merge: unit by unit union
        return [(np.minimum.reduce([a[axis][0] for a in arrays]), np.maximum.reduce([a[axis][1] for a in arrays]))
                for axis in range(len(self.sizes))]


def _sample(parent: tuple[np.ndarray, np.ndarray], op: Sampling | None, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = parent
    if op is None:
        return lo, hi
    n_in = len(lo)
    reads = [op.real(o, n_in) for o in range(n_out)]
    width = max((len(r) for r in reads), default=0)
    index = np.full((n_out, max(width, 1)), n_in, dtype=np.int64)  # n_in: a sentinel column reading nothing
    for o, r in enumerate(reads):
        index[o, :len(r)] = r
    lo_ext = np.append(lo, _EMPTY)
    hi_ext = np.append(hi, -_EMPTY)
    return lo_ext[index].min(axis=1), hi_ext[index].max(axis=1)


@dataclass(frozen=True, eq=False)
class SpatialField:
    """A tensor's receptive field: ``dims[a]`` is the (negative) tensor dim of input axis ``a``."""

    dims: tuple[int, ...]
    theory: tuple[AxisField | None, ...]
    image: ImageMap

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.image.sizes


def input_field(x: Tensor) -> SpatialField | None:
    """The field of a model input: N x C x spatial dims (1 to 3 of them)."""
    if x.dim() < 3 or x.dim() > 5:
        return None
    n = x.dim() - 2
    sizes = tuple(int(v) for v in x.shape[2:])
    return SpatialField(tuple(range(-n, 0)), (INPUT_AXIS,) * n, ImageMap(sizes))


Input = tuple[Tensor, "SpatialField | None", bool]  # (tensor, its field, whether it depends on the image)


def _keeps(f: SpatialField, value: Tensor, out: Tensor) -> bool:
    if out.dim() < -min(f.dims) or value.dim() < -min(f.dims):
        return False
    return all(int(out.shape[d]) == n for d, n in zip(f.dims, f.sizes, strict=True))


def _merge(fields: list[SpatialField]) -> tuple[SpatialField | None, list[str]]:
    first = fields[0]
    if len(fields) == 1:
        return first, []
    if any(f.dims != first.dims for f in fields):
        return None, ["merge of maps whose spatial dims are ordered differently: field not tracked"]
    theory, notes = [], []
    for axis in range(len(first.dims)):
        merged: AxisField | None = first.theory[axis]
        for f in fields[1:]:
            other = f.theory[axis]
            merged = merged.union(other) if merged is not None and other is not None else None
            if merged is None and first.theory[axis] is not None and other is not None:
                notes.append(f"{'hwd'[axis] if len(first.dims) > 1 else 'l'}: merged maps have different jumps "
                             f"({first.theory[axis].jump} vs {other.jump}); theoretical field not tracked")
        theory.append(merged)
    return SpatialField(first.dims, tuple(theory), ImageMap(first.sizes, tuple(f.image for f in fields))), notes


def _generic(inputs: list[Input], out: Tensor) -> tuple[SpatialField | None, list[str]]:
    """Positions kept where the output keeps the spatial sizes; several such inputs merge unit by unit."""
    carriers, global_context = [], False
    for value, f, depends in inputs:
        if f is not None and _keeps(f, value, out):
            carriers.append(f)
        elif depends and (f is None or not _keeps(f, value, out)) and value.dim() >= 2:
            global_context = True
    if not carriers:
        return None, []
    result, notes = _merge(carriers)
    if global_context:
        notes.append(GLOBAL_CONTEXT)
    return result, notes


def _resample(f: SpatialField, x: Tensor, spec: tuple, out: Tensor) -> tuple[SpatialField | None, list[str]]:
    if out.dim() != x.dim():
        return None, []
    width = len(spec)
    ops = tuple(spec[width + d] if d >= -width else None for d in f.dims)
    sizes = tuple(int(out.shape[d]) for d in f.dims)
    theory = tuple(t.through(op) if t is not None and op is not None else t for t, op in zip(f.theory, ops, strict=True))
    notes = []
    if any(t is None and old is not None for t, old in zip(theory, f.theory, strict=True)):
        notes.append("no theoretical field from here on: an op that is not translation invariant (a flip), "
                     "or one whose outputs read no input at all")
    return SpatialField(f.dims, theory, ImageMap(sizes, (f.image,), ops)), notes


def _concat(inputs: list[Input], spec: Concat, out: Tensor) -> tuple[SpatialField | None, list[str]]:
    fields = [f for _, f, _ in inputs if f is not None]
    if not fields or spec.dim not in fields[0].dims or len(fields) != len(inputs):
        return _generic(inputs, out)
    first = fields[0]
    if any(f.dims != first.dims for f in fields):
        return None, []
    axis = first.dims.index(spec.dim)
    theory = []
    for a in range(len(first.dims)):
        t = first.theory[a]
        for f in fields[1:]:
            t = t.union(f.theory[a]) if t is not None and f.theory[a] is not None and a != axis else None
        theory.append(t)
    sizes = tuple(int(out.shape[d]) for d in first.dims)
    return (SpatialField(first.dims, tuple(theory), ImageMap(sizes, tuple(f.image for f in fields), concat_axis=axis)),
            ["maps laid side by side along a spatial axis: no theoretical field along it"])


def propagate(spec: object, inputs: list[Input], out: Tensor | None) -> tuple[SpatialField | None, list[str]]:
    """The field of ``out`` after an op whose rule gave ``spec`` (module docstring), and notes."""
    if out is None or not inputs:
        return None, []
    x, first, _ = inputs[0]
    if spec == END:
        return None, []
    if isinstance(spec, Concat):
        return _concat(inputs, spec, out)
    if first is None or spec is None or spec == PASS:
        return _generic(inputs, out)
    if isinstance(spec, Permute):
        n = x.dim()
        dims = tuple(spec.order.index(d % n) - n for d in first.dims)
        moved = SpatialField(dims, first.theory, first.image)
        return _generic([(out, moved, True), *inputs[1:]], out)
    if isinstance(spec, Mixes):
        mixed = {d % x.dim() - x.dim() for d in spec.dims}
        if not mixed & set(first.dims):
            return _generic(inputs, out)
        if not spec.local:
            return None, []
        field, notes = _generic(inputs, out)
        return field, [*notes, GLOBAL_CONTEXT] if field is not None else notes
    field, notes = _resample(first, x, spec, out)
    for value, f, depends in inputs[1:]:
        if depends and value.dim() >= 2:
            notes.append(GLOBAL_CONTEXT if f is None else "a second image-dependent input (e.g. offsets) moves "
                         "the samples: the field shown is the regular grid's")
    return field, notes
