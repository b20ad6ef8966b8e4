"""Receptive field of one feature map, per spatial axis: the lecture's (r, j, start).

The per-axis recurrence is :mod:`cnnlab.arith.receptive_field` (``rf_window_step``,
``rf_transposed_step``, ``rf_upsample_step``; formulas and conventions in its docstring and in
``docs/arithmetic.md``); this module applies it to both axes of a feature map and merges branches.

``r`` is the theoretical receptive field: the extent of the input pixels that influence a unit, with
positions in the zero padding counted, so ``r`` may exceed the image. ``start`` is the centre of the
first output unit's field in input pixel coordinates (pixel ``i`` spans ``[i, i + 1)``, so the input
has ``start = 0.5``). Transposed convolutions and upsampling divide the jump, which can become
fractional; after upsampling a unit's field is centred near, not exactly on, ``start + i * j``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnnlab.arith.receptive_field import UPSAMPLE_TAPS, rf_transposed_step, rf_upsample_step, rf_window_step

__all__ = ["Field", "INPUT_FIELD", "UPSAMPLE_TAPS", "window", "transposed", "upsample", "merge"]


@dataclass(frozen=True)
class Field:
    """Receptive field size ``r``, jump ``j`` and ``start`` of a feature map, each an (h, w) pair."""

    r: tuple[float, float]
    j: tuple[float, float]
    start: tuple[float, float]


INPUT_FIELD = Field((1.0, 1.0), (1.0, 1.0), (0.5, 0.5))


def _per_axis(f: Field, step: Callable[..., tuple[float, float, float]], *params: tuple) -> Field:
    """Apply the one-axis ``step`` to height and width; ``params`` are (h, w) pairs."""
    h = step(f.r[0], f.j[0], f.start[0], *(v[0] for v in params))
    w = step(f.r[1], f.j[1], f.start[1], *(v[1] for v in params))
    return Field((h[0], w[0]), (h[1], w[1]), (h[2], w[2]))


def window(f: Field, k: tuple[int, int], s: tuple[int, int], p: tuple[float, float],
           d: tuple[int, int] = (1, 1)) -> Field:
    """Convolution or pooling window (kernel k, stride s, left padding p, dilation d) on each axis."""
    return _per_axis(f, rf_window_step, k, s, p, d)


def transposed(f: Field, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
               d: tuple[int, int] = (1, 1)) -> Field:
    """Transposed convolution: the jump is divided by the stride."""
    return _per_axis(f, rf_transposed_step, k, s, p, d)


def upsample(f: Field, scale: tuple[float, float], mode: str) -> Field:
    """Resize by ``scale`` (output size / input size) with ``align_corners=False`` geometry.

    Each output reads ``UPSAMPLE_TAPS[mode]`` neighbouring inputs per axis (2 for a mode not listed).
    """
    taps = UPSAMPLE_TAPS.get(mode, 2)
    return _per_axis(f, rf_upsample_step, scale, (taps, taps))


def merge(fields: list[Field]) -> tuple[Field, str | None]:
    """Fields meeting at an add / concat / mul: the union of their boxes, and a warning if misaligned.

    Aligned branches (equal jumps and equal starts, i.e. centre-aligned) merge to the largest ``r``.
    A misaligned merge still returns the union of the boxes, with a message saying by how much.
    """
    first = fields[0]
    if all(f == first for f in fields[1:]):
        return first, None
    r, start, problems = [], [], []
    for axis in (0, 1):
        lows = [f.start[axis] - f.r[axis] / 2 for f in fields]
        highs = [f.start[axis] + f.r[axis] / 2 for f in fields]
        r.append(max(highs) - min(lows))
        start.append((max(highs) + min(lows)) / 2)
        jumps = {f.j[axis] for f in fields}
        starts = {f.start[axis] for f in fields}
        if len(jumps) > 1:
            problems.append(f"{'hw'[axis]}: jumps differ {sorted(jumps)}")
        if len(starts) > 1:
            problems.append(f"{'hw'[axis]}: starts differ {sorted(starts)}")
    merged = Field((r[0], r[1]), first.j, (start[0], start[1]))
    return merged, ("misaligned merge (" + "; ".join(problems) + ")") if problems else None
