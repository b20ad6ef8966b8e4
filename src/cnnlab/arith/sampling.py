"""Which input positions one output position reads, along one axis: the geometry of every spatial op.

A receptive field is built from one question asked of each layer: *output position ``o`` reads which
input positions?* A :class:`Sampling` answers it twice:

- ``theory(o)`` on an infinitely extended map (no border: zero padding is imagined as more pixels,
  interpolation is not clamped), defined for every integer ``o`` and periodic:
  ``theory(o + period) == [i + shift for i in theory(o)]``. This gives the lecture's theoretical field.
- ``real(o, n_in)`` on a map of ``n_in`` positions, exactly as torch computes it: zero padding reads
  nothing, reflect / replicate / circular padding re-map the index, interpolation clamps at the border.
  This gives the pixels that really influence a unit, what a gradient sees.

Positions read with a weight of exactly zero are not read (bilinear at an integer source coordinate
reads one input, not two). Interpolation is computed in exact rational arithmetic; torch computes it in
floating point, which for non-dyadic scales (e.g. ``scale_factor=3``) can add a neighbour with a weight
of rounding size (~1e-16); that neighbour is not counted.

Formulas (``k`` kernel, ``s`` stride, ``p`` padding before the first input, ``d`` dilation):

- window (conv, pooling): ``o`` reads ``o·s − p + t·d``, ``t = 0..k−1``; period 1, shift ``s``;
- transposed conv: ``o`` reads every ``i`` with ``i·s − p + t·d = o``; period ``s``, shift 1;
- pad by ``left`` (negative crops): ``o`` reads ``o − left`` (circular padding wraps inside the cropped map);
- slice ``start::step``: ``o`` reads ``start + o·step``;
- interpolation with source scale ``q`` (input size / output size as torch uses it): source coordinate
  ``(o + ½)q − ½`` (``o·q`` with ``align_corners``), nearest ``⌊o·q⌋``, nearest-exact ``⌊(o + ½)q⌋``,
  linear its two neighbours, cubic four; period = denominator of ``q``, shift = its numerator;
- adaptive pooling ``n_in → n_out``: ``⌊o·n_in/n_out⌋ .. ⌈(o+1)·n_in/n_out⌉ − 1``;
- pixel shuffle by ``r``: ``o`` reads ``⌊o/r⌋`` (period ``r``, shift 1);
- flip: ``o`` reads ``n_in − 1 − o`` (only in a real map: a flip has no theoretical field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from cnnlab.arith.checks import require_choice, require_int, require_positive
from cnnlab.errors import ConfigError

__all__ = [
    "Sampling", "Window", "Transposed", "Pad", "Slice", "Interpolate", "Adaptive", "PixelShuffle", "Flip",
    "PAD_MODES", "INTERPOLATE_MODES", "interpolation_scale",
]

PAD_MODES = ("constant", "zeros", "reflect", "replicate", "circular")
INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")


def _remap(i: int, n_in: int, mode: str) -> tuple[int, ...]:
    """The input position read for index ``i`` of a map of ``n_in``: itself inside; outside, what padding
    mode ``mode`` reads there (torch: reflect ``-i`` / ``2(n−1) − i``, replicate the border, circular
    wraps, constant nothing)."""
    if 0 <= i < n_in:
        return (i,)
    if mode == "reflect":
        i = -i if i < 0 else 2 * (n_in - 1) - i
        return (i,) if 0 <= i < n_in else ()
    if mode == "replicate":
        return (min(max(i, 0), n_in - 1),)
    if mode == "circular":
        return (i % n_in,)
    return ()


class Sampling:
    """Base: ``period``/``shift`` describe how ``theory`` repeats; ``real`` defaults to ``theory`` inside the map.

    ``translation_invariant`` is False for an op with no theoretical field (a flip reads the map backwards:
    nothing repeats), whose ``theory`` is then never asked.
    """

    period: int = 1
    shift: int = 1
    translation_invariant: bool = True

    def theory(self, o: int) -> tuple[int, ...]:
        raise NotImplementedError

    def real(self, o: int, n_in: int) -> tuple[int, ...]:
        return tuple(i for i in self.theory(o) if 0 <= i < n_in)


@dataclass(frozen=True)
class Window(Sampling):
    """Convolution or pooling window: ``o`` reads ``o·s − p + t·d`` for ``t = 0..k−1``; outside the input it
    reads what padding ``mode`` puts there (a conv's ``padding_mode``; pooling pads with nothing)."""

    k: int
    s: int = 1
    p: int = 0
    d: int = 1
    mode: str = "constant"

    def __post_init__(self) -> None:
        for name in ("k", "s", "d"):
            require_positive(name, getattr(self, name), "Window")
        require_int("p", self.p, "Window")
        require_choice("mode", self.mode, PAD_MODES, "Window")

    @property
    def shift(self) -> int:  # type: ignore[override]
        return self.s

    def theory(self, o: int) -> tuple[int, ...]:
        base = o * self.s - self.p
        return tuple(base + t * self.d for t in range(self.k))

    def real(self, o: int, n_in: int) -> tuple[int, ...]:
        return tuple(sorted({j for i in self.theory(o) for j in _remap(i, n_in, self.mode)}))


@dataclass(frozen=True)
class Transposed(Sampling):
    """Transposed convolution: ``o`` reads each ``i`` with ``i·s − p + t·d = o`` (the inputs that scatter to it)."""

    k: int
    s: int = 1
    p: int = 0
    d: int = 1

    def __post_init__(self) -> None:
        for name in ("k", "s", "d"):
            require_positive(name, getattr(self, name), "Transposed")
        require_int("p", self.p, "Transposed")

    @property
    def period(self) -> int:  # type: ignore[override]
        return self.s

    @property
    def shift(self) -> int:  # type: ignore[override]
        return 1

    def theory(self, o: int) -> tuple[int, ...]:
        reads = [(o + self.p - t * self.d) // self.s for t in range(self.k) if (o + self.p - t * self.d) % self.s == 0]
        return tuple(sorted(reads))


@dataclass(frozen=True)
class Pad(Sampling):
    """Padding by ``left`` positions before the input and ``right`` after (negative: a crop), in one of torch's
    modes. Circular padding crops first and wraps inside what is left (torch's ``_pad_circular``)."""

    left: int
    mode: str = "constant"
    right: int = 0

    def __post_init__(self) -> None:
        require_int("left", self.left, "Pad")
        require_int("right", self.right, "Pad")
        require_choice("mode", self.mode, PAD_MODES, "Pad")

    def theory(self, o: int) -> tuple[int, ...]:
        return (o - self.left,)

    def real(self, o: int, n_in: int) -> tuple[int, ...]:
        i = o - self.left
        if self.mode != "circular":
            return _remap(i, n_in, self.mode)
        first, kept = max(0, -self.left), n_in - max(0, -self.left) - max(0, -self.right)
        return (first + (i - first) % kept,) if kept > 0 else ()


@dataclass(frozen=True)
class Slice(Sampling):
    """``x[start::step]`` along the axis: ``o`` reads ``start + o·step``."""

    start: int = 0
    step: int = 1

    def __post_init__(self) -> None:
        require_int("start", self.start, "Slice")
        require_positive("step", self.step, "Slice")

    @property
    def shift(self) -> int:  # type: ignore[override]
        return self.step

    def theory(self, o: int) -> tuple[int, ...]:
        return (self.start + o * self.step,)


def interpolation_scale(n_in: int, n_out: int, scale_factor: float | None = None,
                        align_corners: bool = False) -> Fraction:
    """The source scale ``q`` torch uses (``area_pixel_compute_scale``): ``(n_in − 1)/(n_out − 1)`` with
    ``align_corners``, else ``1/scale_factor`` when a scale factor is passed and not recomputed, else
    ``n_in/n_out``. A float scale factor is read as the nearest fraction with a denominator ≤ 65536."""
    n_in = require_positive("input size", n_in, "interpolation_scale")
    n_out = require_positive("output size", n_out, "interpolation_scale")
    if align_corners:
        return Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
    if scale_factor is not None and scale_factor > 0:
        return 1 / Fraction(scale_factor).limit_denominator(1 << 16)
    return Fraction(n_in, n_out)


@dataclass(frozen=True)
class Interpolate(Sampling):
    """``F.interpolate`` along one axis with source scale ``q`` (:func:`interpolation_scale`)."""

    mode: str
    q: Fraction
    align_corners: bool = False

    def __post_init__(self) -> None:
        require_choice("mode", self.mode, INTERPOLATE_MODES, "Interpolate")
        if self.mode == "area":
            raise ConfigError("Interpolate: mode 'area' is adaptive average pooling; use Adaptive(n_in, n_out)")
        object.__setattr__(self, "q", Fraction(self.q))
        if self.q < 0:
            raise ConfigError(f"Interpolate: scale q must be ≥ 0, got {self.q}")

    @property
    def period(self) -> int:  # type: ignore[override]
        return self.q.denominator

    @property
    def shift(self) -> int:  # type: ignore[override]
        return self.q.numerator

    def _source(self, o: int) -> Fraction:
        return self.q * o if self.align_corners else (o + Fraction(1, 2)) * self.q - Fraction(1, 2)

    def theory(self, o: int) -> tuple[int, ...]:
        if self.mode == "nearest":
            return (math.floor(o * self.q),)
        if self.mode == "nearest-exact":
            return (math.floor((o + Fraction(1, 2)) * self.q),)
        src = self._source(o)
        i0 = math.floor(src)
        if src == i0:
            return (i0,)
        return (i0, i0 + 1) if self.mode in ("linear", "bilinear", "trilinear") else (i0 - 1, i0, i0 + 1, i0 + 2)

    def real(self, o: int, n_in: int) -> tuple[int, ...]:
        last = n_in - 1
        if self.mode in ("nearest", "nearest-exact"):
            return (min(self.theory(o)[0], last),)
        src = self._source(o)
        if self.mode == "bicubic":  # unclamped source, each tap clamped to the border (upsample_get_value_bounded)
            return tuple(sorted({min(max(i, 0), last) for i in self.theory(o)}))
        src = max(src, Fraction(0))  # linear: area_pixel_compute_source_index clamps at 0, then
        i0 = min(math.floor(src), last)  # guard_index_and_lambda: i0 ≤ n−1, λ in [0, 1]
        lam = min(max(src - i0, Fraction(0)), Fraction(1))
        i1 = i0 + 1 if i0 < last else i0
        reads = {i for i, weight in ((i0, 1 - lam), (i1, lam)) if weight != 0}
        return tuple(sorted(reads))


@dataclass(frozen=True)
class Adaptive(Sampling):
    """Adaptive pooling ``n_in → n_out``: ``o`` reads ``⌊o·n_in/n_out⌋ .. ⌈(o+1)·n_in/n_out⌉ − 1``."""

    n_in: int
    n_out: int

    def __post_init__(self) -> None:
        require_positive("n_in", self.n_in, "Adaptive")
        require_positive("n_out", self.n_out, "Adaptive")

    @property
    def period(self) -> int:  # type: ignore[override]
        return self.n_out // math.gcd(self.n_in, self.n_out)

    @property
    def shift(self) -> int:  # type: ignore[override]
        return self.n_in // math.gcd(self.n_in, self.n_out)

    def theory(self, o: int) -> tuple[int, ...]:
        first = (o * self.n_in) // self.n_out
        end = -((-(o + 1) * self.n_in) // self.n_out)
        return tuple(range(first, end))


@dataclass(frozen=True)
class Flip(Sampling):
    """``torch.flip`` along the axis: on a map of ``n_in``, ``o`` reads ``n_in − 1 − o`` (no theoretical field)."""

    translation_invariant = False

    def theory(self, o: int) -> tuple[int, ...]:
        raise ConfigError("Flip has no theoretical field: it is not translation invariant")

    def real(self, o: int, n_in: int) -> tuple[int, ...]:
        return (n_in - 1 - o,) if 0 <= o < n_in else ()


@dataclass(frozen=True)
class PixelShuffle(Sampling):
    """Pixel shuffle by ``r`` along one axis: ``o`` reads ``⌊o/r⌋`` (pixel unshuffle is ``Window(r, r)``)."""

    r: int

    def __post_init__(self) -> None:
        require_positive("r", self.r, "PixelShuffle")

    @property
    def period(self) -> int:  # type: ignore[override]
        return self.r

    @property
    def shift(self) -> int:  # type: ignore[override]
        return 1

    def theory(self, o: int) -> tuple[int, ...]:
        return (o // self.r,)
