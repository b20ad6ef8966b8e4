"""The receptive-field recurrence along a chain of layers, one axis at a time.

Each feature map is described, as in the lecture, by ``n`` features, jump ``j`` (distance between
neighbouring features, in input pixels), receptive field size ``r`` (input pixels) and ``start`` (centre
of the first feature's receptive field). The input is row 0 with ``n0, r0 = 1, j0 = 1, start0 = 0.5``
(pixel ``i`` covers ``[i, i + 1)``).

Convolution and pooling (lecture, "Receptive field"; dilation through the effective kernel
``k_eff = d(k - 1) + 1``)::

    n_out     = floor((n_in + 2p - k_eff) / s) + 1
    j_out     = j_in * s
    r_out     = r_in + (k_eff - 1) * j_in
    start_out = start_in + ((k_eff - 1)/2 - p) * j_in

Transposed convolution and upsampling make the grid finer: the jump *divides* by the factor, and
neighbouring features no longer read the same number of inputs. So each row is computed exactly, unit
by unit, from what every output position reads (:mod:`cnnlab.arith.sampling`), as one period of the
repeating pattern (:class:`cnnlab.arith.field.AxisField`): ``r`` is the widest feature's extent, ``r_min``
the narrowest, ``period`` the features per repeat, ``j`` the mean jump, ``start`` feature 0's centre.
For conv and pooling layers this is exactly the recurrence above.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from fractions import Fraction

from cnnlab.arith.checks import pair, require_choice, require_non_negative, require_positive
from cnnlab.arith.field import AxisField
from cnnlab.arith.sampling import Interpolate, Sampling, Transposed, Window
from cnnlab.arith.sizes import conv_output_size, pool_output_size, transposed_conv_output_size
from cnnlab.errors import ConfigError

__all__ = [
    "KINDS",
    "UPSAMPLE_MODES",
    "Layer",
    "RFRow",
    "receptive_field",
    "receptive_field_2d",
    "feature_center",
    "format_rf_table",
]

KINDS = ("conv", "pool", "deconv", "upsample")
UPSAMPLE_MODES = ("nearest", "bilinear")

Size = int | tuple[int, int]


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
    """One feature map of the chain: ``n`` features, jump ``j``, receptive field ``r``, ``start``; ``r_min``
    and ``period`` where the features differ. ``j``, ``r`` and ``start`` are in input pixels, ints when whole."""

    name: str
    n: int
    j: float
    r: float
    start: float
    r_min: float | None = None
    period: int = 1
    field: AxisField | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.r_min is None:
            object.__setattr__(self, "r_min", self.r)


def _plain(x: Fraction | int) -> int | float:
    x = Fraction(x)
    return int(x) if x.denominator == 1 else float(x)


def _row(name: str, n: int, f: AxisField) -> RFRow:
    return RFRow(name, n, _plain(f.jump), f.r, _plain(f.start), f.r_min, f.period, f)


def _initial(r0: object, j0: object, start0: object) -> AxisField:
    """The input row as a field: whole pixels, ``start0 − r0/2`` on a pixel border."""
    values = []
    for name, value in (("r0", r0), ("j0", j0), ("start0", start0)):
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) or (isinstance(value, float) and not math.isfinite(value)):
            raise ConfigError(f"receptive_field: {name} must be a finite number, got {value!r}")
        values.append(Fraction(value))
    r, j, start = values
    first = start - r / 2
    if r < 1 or j < 1 or r.denominator != 1 or j.denominator != 1 or first.denominator != 1:
        raise ConfigError(f"receptive_field: r0={r0}, j0={j0}, start0={start0} must describe whole pixels "
                          "(r0 and j0 integers ≥ 1, start0 − r0/2 an integer)")
    return AxisField(1, int(j), ((int(first), int(first + r) - 1),))


def _step(layer: Layer, n: int) -> tuple[int, Sampling]:
    """Output size and sampling of one layer along its axis."""
    k, s, p, d = layer.k, layer.s, layer.p, layer.d
    if layer.kind == "upsample":
        return n * s, Interpolate(layer.mode, Fraction(1, s))
    if layer.kind == "deconv":
        return transposed_conv_output_size(n, k, p, s, d, layer.output_padding), Transposed(k, s, p, d)
    if layer.kind == "pool":
        return pool_output_size(n, k, s, p, d, layer.ceil_mode), Window(k, s, p, d)
    return conv_output_size(n, k, p, s, d, layer.ceil_mode), Window(k, s, p, d)


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
    f = _initial(r0, j0, start0)
    rows = [_row("input", n_in, f)]
    for index, layer in enumerate(layers, start=1):
        name = layer.name or f"{layer.kind}{index}"
        try:
            n_in, op = _step(layer.along(axis), n_in)
        except ConfigError as exc:
            raise ConfigError(f"layer {index} ({name}): {exc}") from None
        f = f.through(op)
        rows.append(_row(name, n_in, f))
    return rows


def receptive_field_2d(
    layers: list[Layer], size: Size, **kwargs: float
) -> tuple[list[RFRow], list[RFRow]]:
    """:func:`receptive_field` along height and width: ``(rows_h, rows_w)``."""
    return (receptive_field(layers, size, axis=0, **kwargs),
            receptive_field(layers, size, axis=1, **kwargs))


def feature_center(row: RFRow, i: int) -> float:
    """Centre of the receptive field of feature ``i`` (0-based) in ``row``: ``start + i * j`` through conv and
    pooling layers; after upsampling, the exact centre of that feature's own field."""
    i = require_non_negative("feature index i", i, "feature_center")
    if i >= row.n:
        raise ConfigError(f"feature_center: feature index i={i} is outside the {row.n} features of {row.name}")
    centre = row.field.centre(i) if row.field is not None else Fraction(row.start) + i * Fraction(row.j)
    return _plain(centre)


def format_rf_table(rows: list[RFRow]) -> str:
    """The rows as a plain-text table (one line per feature map), for logs and docs."""
    header = ("layer", "n", "j", "r", "r_min", "start")
    cells = [header] + [(row.name, *(f"{v:g}" for v in (row.n, row.j, row.r, row.r_min, row.start))) for row in rows]
    widths = [max(len(line[col]) for line in cells) for col in range(len(header))]

    def render(line: tuple[str, ...]) -> str:
        name, *numbers = line
        return "  ".join([name.ljust(widths[0]), *(v.rjust(w) for v, w in zip(numbers, widths[1:], strict=True))])

    return "\n".join(render(line) for line in cells)
