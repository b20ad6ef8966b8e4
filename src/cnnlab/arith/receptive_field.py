"""The receptive-field recurrence along a chain of layers, one axis at a time.

Each feature map is described, as in the lecture, by four numbers:
``n`` features, jump ``j`` (distance between neighbouring features, in input pixels), receptive
field size ``r`` (input pixels) and ``start`` (centre of the first feature's receptive field).
The input is row 0 with ``n0, r0 = 1, j0 = 1, start0 = 0.5`` (pixel ``i`` covers ``[i, i + 1)``).

Convolution and pooling (lecture, "Receptive field"; dilation through the effective kernel
``k_eff = d(k - 1) + 1``)::

    n_out     = floor((n_in + 2p - k_eff) / s) + 1
    j_out     = j_in * s
    r_out     = r_in + (k_eff - 1) * j_in
    start_out = start_in + ((k_eff - 1)/2 - p) * j_in

Transposed convolution and upsampling make the grid finer, so the jump *divides* by the factor
and may become fractional. Convention used here: a transposed conv of stride ``s`` is zero-insertion
by ``s`` followed by a stride-1 conv of the effective kernel, which gives::

    j_out     = j_in / s
    r_out     = r_in + (k_eff - 1) * j_in / s
    start_out = start_in + (p - (k_eff - 1)/2) * j_in / s

``r_out`` is the span the kernel covers: exact for the output phases whose kernel window lands on
``(k_eff - 1)/s + 1`` input features (some phase always does when ``s`` divides ``k_eff - 1``), an
upper bound for the others (when ``s`` and ``d`` share a factor, some outputs see no input at all).

Upsampling by ``scale`` (align_corners=False) puts output ``o`` at input coordinate
``(o + 1/2)/scale - 1/2`` and reads ``taps`` neighbouring features (1 for nearest, 2 for bilinear,
4 for bicubic; :data:`UPSAMPLE_TAPS`)::

    j_out     = j_in / scale
    r_out     = r_in + (taps - 1) * j_in
    start_out = start_in + (1/scale - 1)/2 * j_in

``r`` is the extent of the input pixels that influence a unit (exact for nearest, the widest phase
for bilinear and bicubic). The features an upsampled unit reads are not evenly spaced, so for an
integer scale its field is centred within ``(1 - 1/scale)/2 * j_in`` of ``start + i * j``, not on it.

The per-axis steps :func:`rf_window_step`, :func:`rf_transposed_step` and :func:`rf_upsample_step`
are the one implementation of these formulas; :mod:`cnnlab.analysis.field` applies them to traced
graphs. They work on ints, floats or :class:`~fractions.Fraction` alike (Fractions stay exact).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from cnnlab.arith.checks import pair, require_choice, require_non_negative, require_positive
from cnnlab.arith.sizes import (
    conv_output_size,
    effective_kernel,
    pool_output_size,
    transposed_conv_output_size,
)
from cnnlab.errors import ConfigError

__all__ = [
    "KINDS",
    "UPSAMPLE_MODES",
    "UPSAMPLE_TAPS",
    "Layer",
    "RFRow",
    "rf_window_step",
    "rf_transposed_step",
    "rf_upsample_step",
    "receptive_field",
    "receptive_field_2d",
    "feature_center",
    "format_rf_table",
]

KINDS = ("conv", "pool", "deconv", "upsample")
UPSAMPLE_MODES = ("nearest", "bilinear")
# input features read per output position along one axis, by interpolation mode (torch's modes)
UPSAMPLE_TAPS = {"nearest": 1, "nearest-exact": 1, "area": 1, "bilinear": 2, "bicubic": 4}

Size = int | tuple[int, int]
Number = int | float | Fraction


@dataclass(frozen=True)
class Layer:
    """One layer of a chain, with the hyper-parameters that move the grid.

    ``kind``: ``"conv"``, ``"pool"``, ``"deconv"`` (transposed conv; ``"transposed"`` is accepted) or
    ``"upsample"`` (``s`` is the scale factor, ``mode`` nearest or bilinear). ``k, s, p, d`` and
    ``output_padding`` are ints or ``(h, w)`` pairs; :meth:`along` picks one axis.
    """

    k: Size = 1
    s: Size = 1
    p: Size = 0
    d: Size = 1
    kind: str = "conv"
    name: str = ""
    ceil_mode: bool = False
    output_padding: Size = 0
    mode: str = "nearest"

    def __post_init__(self) -> None:
        if self.kind == "transposed":
            object.__setattr__(self, "kind", "deconv")
        where = f"Layer {self.name or self.kind!r}"
        require_choice("kind", self.kind, KINDS, where)
        require_choice("mode", self.mode, UPSAMPLE_MODES, where)
        for name in ("k", "s", "d"):
            for v in pair(name, getattr(self, name), where):
                require_positive(name, v, where)
        for name in ("p", "output_padding"):
            for v in pair(name, getattr(self, name), where):
                require_non_negative(name, v, where)

    def along(self, axis: int) -> Layer:
        """This layer's hyper-parameters along ``axis`` (0 = height, 1 = width), as plain ints."""
        if axis not in (0, 1):
            raise ConfigError(f"Layer.along: axis must be 0 (height) or 1 (width), got {axis!r}")
        fields = {f: pair(f, getattr(self, f))[axis] for f in ("k", "s", "p", "d", "output_padding")}
        return replace(self, **fields)


@dataclass(frozen=True)
class RFRow:
    """One feature map of the chain: ``n`` features, jump ``j``, receptive field ``r``, ``start``.

    ``j``, ``r`` and ``start`` are in input pixels; ints when whole, floats otherwise.
    """

    name: str
    n: int
    j: float
    r: float
    start: float


def _plain(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)


def _exact(name: str, value: object, positive: bool) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) or (positive and value <= 0):
        raise ConfigError(f"receptive_field: {name} must be a {'positive ' if positive else ''}number, got {value!r}")
    return Fraction(value)


def rf_window_step(r: Number, j: Number, start: Number, k: int, s: int = 1, p: Number = 0,
                   d: int = 1) -> tuple[Number, Number, Number]:
    """Convolution or pooling window along one axis: ``(r, j, start)`` of the output.

    ``r_out = r + (k_eff - 1) j``, ``j_out = j s``, ``start_out = start + ((k_eff - 1)/2 - p) j``
    (lecture, "Receptive field"; ``k_eff = d(k - 1) + 1``; ``p`` is the padding before the first input).
    """
    k_eff = effective_kernel(k, d)
    return r + (k_eff - 1) * j, j * s, start + (Fraction(k_eff - 1, 2) - p) * j


def rf_transposed_step(r: Number, j: Number, start: Number, k: int, s: int = 1, p: Number = 0,
                       d: int = 1) -> tuple[Number, Number, Number]:
    """Transposed convolution along one axis (zero-insertion by ``s``, then a stride-1 conv).

    Output ``o`` reads inputs ``(o + p - t d)/s``, ``t = 0..k-1``: all within ``(k_eff - 1)/s`` input
    steps, centred at ``(o + p - (k_eff - 1)/2)/s``. So ``j_out = j/s``, ``r_out = r + (k_eff - 1) j/s``
    and ``start_out = start + (p - (k_eff - 1)/2) j/s``.
    """
    k_eff = effective_kernel(k, d)
    return r + (k_eff - 1) * j / s, j / s, start + (p - Fraction(k_eff - 1, 2)) * j / s


def rf_upsample_step(r: Number, j: Number, start: Number, scale: Number,
                     taps: int = 1) -> tuple[Number, Number, Number]:
    """Resize by ``scale`` (output size / input size, align_corners=False) along one axis.

    Output ``o`` sits at input coordinate ``(o + 1/2)/scale - 1/2`` and reads ``taps`` neighbouring
    features (:data:`UPSAMPLE_TAPS`): ``r_out = r + (taps - 1) j`` (the extent of the pixels that
    influence it), ``j_out = j/scale``, ``start_out = start + (1/scale - 1)/2 j``. For an integer
    scale the unit's field is centred within ``(1 - 1/scale)/2 j`` of ``start_out + o j_out``.
    """
    j_out = j / scale
    return r + (taps - 1) * j, j_out, start + (j_out - j) / 2


Step = tuple[int, Fraction, Fraction, Fraction]


def _step(layer: Layer, n: int, j: Fraction, r: Fraction, start: Fraction) -> Step:
    """One step of the recurrence (module docstring): ``(n, j, r, start)`` of the layer's output."""
    k, s, p, d = layer.k, layer.s, layer.p, layer.d
    if layer.kind == "upsample":
        r, j, start = rf_upsample_step(r, j, start, s, UPSAMPLE_TAPS[layer.mode])
        return n * s, j, r, start
    if layer.kind == "deconv":
        n_out = transposed_conv_output_size(n, k, p, s, d, layer.output_padding)
        r, j, start = rf_transposed_step(r, j, start, k, s, p, d)
        return n_out, j, r, start
    if layer.kind == "pool":
        n_out = pool_output_size(n, k, s, p, d, layer.ceil_mode)
    else:
        n_out = conv_output_size(n, k, p, s, d, layer.ceil_mode)
    r, j, start = rf_window_step(r, j, start, k, s, p, d)
    return n_out, j, r, start


def receptive_field(
    layers: list[Layer],
    n: Size,
    r0: float = 1,
    j0: float = 1,
    start0: float = 0.5,
    axis: int = 0,
) -> list[RFRow]:
    """Run the recurrence (see the module docstring) along ``axis``; row 0 is the input.

    Lecture example: 5 input pixels, two convs ``k=3, p=1, s=2`` give rows
    ``(n, j, r, start) = (5, 1, 1, 0.5), (3, 2, 3, 0.5), (2, 4, 7, 0.5)``.
    """
    n_in = require_positive("input size n", pair("n", n)[axis], "receptive_field")
    j, r, start = _exact("j0", j0, True), _exact("r0", r0, True), _exact("start0", start0, False)
    rows = [RFRow("input", n_in, _plain(j), _plain(r), _plain(start))]
    for index, layer in enumerate(layers, start=1):
        name = layer.name or f"{layer.kind}{index}"
        try:
            n_in, j, r, start = _step(layer.along(axis), n_in, j, r, start)
        except ConfigError as exc:
            raise ConfigError(f"layer {index} ({name}): {exc}") from None
        rows.append(RFRow(name, n_in, _plain(j), _plain(r), _plain(start)))
    return rows


def receptive_field_2d(
    layers: list[Layer], size: Size, **kwargs: float
) -> tuple[list[RFRow], list[RFRow]]:
    """:func:`receptive_field` along height and width: ``(rows_h, rows_w)``."""
    return (receptive_field(layers, size, axis=0, **kwargs),
            receptive_field(layers, size, axis=1, **kwargs))


def feature_center(row: RFRow, i: int) -> float:
    """Centre of the receptive field of feature ``i`` (0-based) in ``row``: ``start + i * j``."""
    i = require_non_negative("feature index i", i, "feature_center")
    if i >= row.n:
        raise ConfigError(f"feature_center: feature index i={i} is outside the {row.n} features of {row.name}")
    return _plain(Fraction(row.start) + i * Fraction(row.j))


def format_rf_table(rows: list[RFRow]) -> str:
    """The rows as a plain-text table (one line per feature map), for logs and docs."""
    header = ("layer", "n", "j", "r", "start")
    cells = [header] + [(row.name, *(f"{v:g}" for v in (row.n, row.j, row.r, row.start))) for row in rows]
    widths = [max(len(line[col]) for line in cells) for col in range(len(header))]

    def render(line: tuple[str, ...]) -> str:
        name, *numbers = line
        return "  ".join([name.ljust(widths[0]), *(v.rjust(w) for v, w in zip(numbers, widths[1:], strict=True))])

    return "\n".join(render(line) for line in cells)
