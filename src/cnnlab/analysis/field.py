"""Receptive field of one feature map, per spatial axis: the lecture's (r, j, start).

The recurrence (lecture, "Layers [Convolution] [Receptive field]"; Araujo et al., Distill 2019) for a
window op with kernel k, stride s, padding p and dilation d, using the effective kernel
``k_eff = d * (k - 1) + 1``::

    j_out = j_in * s
    r_out = r_in + (k_eff - 1) * j_in
    start_out = start_in + ((k_eff - 1) / 2 - p) * j_in

``r`` is the theoretical receptive field: positions in the zero padding count, so ``r`` may exceed
the image. ``start`` is the centre of the first output unit's field in input pixel coordinates
(pixel ``i`` spans ``[i, i + 1)``, so the input has ``start = 0.5``). Transposed convolutions and
upsampling divide the jump, which can become fractional; their ``r`` is then the size of a box around
each unit's (evenly spaced) centre that contains every input it reads, so it may be fractional too.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Field", "INPUT_FIELD", "window", "transposed", "upsample", "merge"]


@dataclass(frozen=True)
class Field:
    """Receptive field size ``r``, jump ``j`` and ``start`` of a feature map, each an (h, w) pair."""

    r: tuple[float, float]
    j: tuple[float, float]
    start: tuple[float, float]


INPUT_FIELD = Field((1.0, 1.0), (1.0, 1.0), (0.5, 0.5))


def _axis_window(r: float, j: float, start: float, k: int, s: int, p: float, d: int) -> tuple[float, ...]:
    k_eff = d * (k - 1) + 1
    return r + (k_eff - 1) * j, j * s, start + ((k_eff - 1) / 2 - p) * j


def window(f: Field, k: tuple[int, int], s: tuple[int, int], p: tuple[float, float],
           d: tuple[int, int] = (1, 1)) -> Field:
    """Convolution or pooling window (kernel k, stride s, left padding p, dilation d) on each axis."""
    h = _axis_window(f.r[0], f.j[0], f.start[0], k[0], s[0], p[0], d[0])
    w = _axis_window(f.r[1], f.j[1], f.start[1], k[1], s[1], p[1], d[1])
    return Field((h[0], w[0]), (h[1], w[1]), (h[2], w[2]))


def _axis_transposed(r: float, j: float, start: float, k: int, s: int, p: int, d: int) -> tuple[float, ...]:
    # output o gathers inputs i = (o + p - t*d) / s, t = 0..k-1: all within (k_eff - 1) / s input steps
    # of each other, centred at (o + p - (k_eff - 1) / 2) / s
    k_eff = d * (k - 1) + 1
    return r + (k_eff - 1) / s * j, j / s, start + (p - (k_eff - 1) / 2) * j / s


def transposed(f: Field, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
               d: tuple[int, int] = (1, 1)) -> Field:
    """Transposed convolution: the jump is divided by the stride."""
    h = _axis_transposed(f.r[0], f.j[0], f.start[0], k[0], s[0], p[0], d[0])
    w = _axis_transposed(f.r[1], f.j[1], f.start[1], k[1], s[1], p[1], d[1])
    return Field((h[0], w[0]), (h[1], w[1]), (h[2], w[2]))


# input taps per output position on each axis, by interpolation mode
UPSAMPLE_TAPS = {"nearest": 1, "nearest-exact": 1, "bilinear": 2, "bicubic": 4, "area": 1}


def upsample(f: Field, scale: tuple[float, float], mode: str) -> Field:
    """Resize by ``scale`` (output size / input size) with ``align_corners=False`` geometry.

    Output unit ``o`` is centred at input position ``c = (o + 0.5) / scale - 0.5`` and reads
    ``UPSAMPLE_TAPS[mode]`` neighbouring inputs, which lie within ``taps - 1 + (1 - 1 / scale)`` input
    steps of each other around ``c`` (nearest: the rounding offset; bilinear: the two neighbours).
    """
    taps = UPSAMPLE_TAPS.get(mode, 2)
    parts = []
    for axis in (0, 1):
        r, j, start, sc = f.r[axis], f.j[axis], f.start[axis], scale[axis]
        span = taps - 1 + max(0.0, 1 - 1 / sc)
        parts.append((r + span * j, j / sc, start + (0.5 / sc - 0.5) * j))
    return Field((parts[0][0], parts[1][0]), (parts[0][1], parts[1][1]), (parts[0][2], parts[1][2]))


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
