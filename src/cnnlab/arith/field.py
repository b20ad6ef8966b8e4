"""The theoretical receptive field of every unit of a feature map, along one axis, exactly.

Unit ``u`` of a feature map sees input pixels ``lo(u) .. hi(u)`` (inclusive; the input imagined infinitely
extended, so pixels in zero padding count, as in the lecture). Through convolutions and pooling alone
``lo(u) = lo(0) + u·j``: every unit sees the same extent ``r``. After upsampling or a transposed
convolution the units of one *period* differ (a bilinear ×2 then a conv gives units of two extents), and
the pattern repeats: ``lo(u + period) = lo(u) + shift``. :class:`AxisField` stores one period, so it is exact
for every unit of any chain or graph of :mod:`cnnlab.arith.sampling` ops.

Derived numbers (pixel ``i`` spans ``[i, i + 1)``, so the input's ``start`` is 0.5):

- ``r`` = the largest extent ``hi − lo + 1`` over all units, ``r_min`` the smallest;
- ``jump`` = ``shift / period``, the mean distance between neighbouring units' fields;
- ``start`` = the centre ``(lo(0) + hi(0) + 1)/2`` of unit 0's field.

For a conv/pool chain these are the lecture's ``r``, ``j`` and ``start``
(``r' = r + (k_eff − 1)j``, ``j' = j·s``, ``start' = start + ((k_eff − 1)/2 − p)j``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from cnnlab.arith.sampling import Sampling
from cnnlab.errors import ConfigError

__all__ = ["AxisField", "INPUT_AXIS"]

Box = tuple[int, int] | None  # (first, last) input pixel, or None when the unit reads nothing


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class AxisField:
    """One period of the per-unit fields: ``boxes[u]`` for ``u = 0 .. period−1``; box(u + period) = box(u) + shift."""

    period: int
    shift: int
    boxes: tuple[Box, ...]

    def __post_init__(self) -> None:
        if self.period < 1 or len(self.boxes) != self.period:
            raise ConfigError(f"AxisField: need one box per unit of the period {self.period}, got {len(self.boxes)}")
        if all(b is None for b in self.boxes):
            raise ConfigError("AxisField: no unit of the map reads any input")

    # --- one unit -----------------------------------------------------------------------------
    def box(self, u: int) -> Box:
        """``(first, last)`` input pixel seen by unit ``u`` (any integer), or None if it reads none."""
        cycles, phase = divmod(u, self.period)
        b = self.boxes[phase]
        return None if b is None else (b[0] + cycles * self.shift, b[1] + cycles * self.shift)

    def centre(self, u: int) -> Fraction | None:
        b = self.box(u)
        return None if b is None else Fraction(b[0] + b[1] + 1, 2)

    # --- the map ------------------------------------------------------------------------------
    @property
    def r(self) -> int:
        return max(b[1] - b[0] + 1 for b in self.boxes if b is not None)

    @property
    def r_min(self) -> int:
        return min(b[1] - b[0] + 1 for b in self.boxes if b is not None)

    @property
    def jump(self) -> Fraction:
        return Fraction(self.shift, self.period)

    @property
    def start(self) -> Fraction:
        """Centre of unit 0's field; if unit 0 reads nothing, the first unit that does, moved back by its jumps."""
        for u in range(self.period):
            c = self.centre(u)
            if c is not None:
                return c - u * self.jump
        raise AssertionError("unreachable: __post_init__ rejects a map with no field")

    @property
    def empty_units(self) -> bool:
        return any(b is None for b in self.boxes)

    # --- composition --------------------------------------------------------------------------
    def through(self, op: Sampling) -> AxisField | None:
        """The field after ``op``: output ``o`` sees the union of the fields of the positions it reads
        (None after an op that is not translation invariant, e.g. a flip, or when no output reads any input)."""
        if not op.translation_invariant:
            return None
        # o -> o + m·op.period moves the reads by m·op.shift, which must be a whole number of our periods
        m = self.period // math.gcd(op.shift, self.period)
        period = m * op.period
        shift = self.shift * (m * op.shift // self.period)
        boxes = tuple(_union(self.box(i) for i in op.theory(o)) for o in range(period))
        if all(b is None for b in boxes):
            return None
        return _smallest_period(period, shift, boxes)

    def union(self, other: AxisField) -> AxisField | None:
        """Fields of two maps of one grid merged unit by unit (add, concat, mul); None when their jumps differ."""
        if self.shift * other.period != other.shift * self.period:
            return None
        period = math.lcm(self.period, other.period)
        shift = self.shift * (period // self.period)
        boxes = tuple(_union((self.box(u), other.box(u))) for u in range(period))
        return _smallest_period(period, shift, boxes)


def _union(boxes: object) -> Box:
    present = [b for b in boxes if b is not None]  # type: ignore[union-attr]
    if not present:
        return None
    return min(b[0] for b in present), max(b[1] for b in present)


def _smallest_period(period: int, shift: int, boxes: tuple[Box, ...]) -> AxisField:
    for p in _divisors(period):
        if p == period or (shift * p) % period:
            continue
        step = shift * p // period
        if all(_moved(boxes[u], step) == boxes[u + p] for u in range(period - p)):
            return AxisField(p, step, boxes[:p])
    return AxisField(period, shift, boxes)


def _moved(b: Box, step: int) -> Box:
    return None if b is None else (b[0] + step, b[1] + step)


INPUT_AXIS = AxisField(1, 1, ((0, 0),))
