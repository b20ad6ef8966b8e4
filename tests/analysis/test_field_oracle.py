"""The analytic receptive field (``cnnlab.inspect(...).receptive_field``) held against the gradient oracle.

The oracle (``cnnlab.analysis.empirical.gradient_boxes``) measures, for each output unit of a window,
the bounding box of the input pixels with a nonzero gradient in a positive, linearised float64 copy.

(a) ``rf.image_box(u)`` must equal the oracle's box for EVERY unit of the window;
(b) where the input leaves room for a window of interior units (a dependency cone away from every
    border, covering at least ``period + 1`` units along an axis), ``rf.box(u)`` must equal the oracle's
    box on that axis for each of them, and ``r``, ``r_min``, ``jump`` and ``start`` (extrapolated from the
    window through the period: box(u + period) is box(u) shifted by period * jump) must equal the
    analytic ones.

The networks (``foreign_nets.py``) were written by others: torchvision, timm and hand-written nets in
their authors' idiom. Interior units are found from the analytic boxes themselves (a box inside the image);
that a box inside the image means a cone away from every border holds when no layer crops (negative
padding, transposed-conv padding); the random stacks below, which do crop, widen the margin by the crop.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import cnnlab
from cnnlab.analysis.empirical import gradient_boxes

# the table beside this file (pytest imports test files in importlib mode: no package, no sys.path entry)
_spec = importlib.util.spec_from_file_location("foreign_nets", Path(__file__).with_name("foreign_nets.py"))
foreign_nets = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(foreign_nets)
NETS = {net.name: net for net in foreign_nets.FOREIGN_NETS}
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _axis_box(rf, axis: int, u: int) -> tuple[int, int] | None:
    """The theoretical box of unit ``u`` along ``axis`` (None: the unit reads nothing on that axis)."""
    box = rf.box(tuple(u if a == axis else 0 for a in range(len(rf.feature_size))))[axis]
    return None if box is None else tuple(box)


def _interior_start(rf, axis: int, n_in: int, length: int, margin: tuple[int, int] = (0, 0)) -> int | None:
    """First unit of a window of ``length`` consecutive units, centred in the longest run of units whose
    theoretical box lies inside the image (``margin`` pixels in from each end), or None."""
    boxes = (_axis_box(rf, axis, u) for u in range(rf.feature_size[axis]))
    inside = [box is not None and margin[0] <= box[0] and box[1] <= n_in - 1 - margin[1] for box in boxes]
    best, run_start = (0, 0), None
    for u, ok in enumerate([*inside, False]):
        if ok and run_start is None:
            run_start = u
        elif not ok and run_start is not None:
            best = max(best, (u - run_start, run_start))
            run_start = None
    size, first = best
    return first + (size - length) // 2 if size >= length else None


def _window(rf, input_size: tuple[int, ...], length: int, margins=None) -> tuple[list[int], list[int]]:
    """Per axis, the first unit of the window: centred in an interior run where the axis has one of at
    least max(length, period + 1) units; otherwise in the middle of the map on the first axis and at
    unit 0 (the border) on the others. Returns the starts and the interior axes."""
    starts, interior = [], []
    for axis, n_out in enumerate(rf.feature_size):
        known = rf.period[axis] is not None  # None: no theoretical field (e.g. align_corners=True resizing)
        need = max(length, int(rf.period[axis]) + 1) if known else length + 1
        margin = margins[axis] if margins else (0, 0)
        start = _interior_start(rf, axis, input_size[2 + axis], need, margin) if need <= length else None
        if start is not None:
            interior.append(axis)
        starts.append(start if start is not None else max(0, (n_out - length) // 2) if axis == 0 else 0)
    return starts, interior


def _diagonal(starts: list[int], sizes: tuple[int, ...], length: int) -> list[tuple[int, ...]]:
    """``length`` units stepping by one along every axis at once (wrapping around short axes)."""
    return [tuple((s + k) % n for s, n in zip(starts, sizes, strict=True)) for k in range(length)]


def _along(rf, starts: list[int], axis: int, length: int) -> list[tuple[int, ...]]:
    """``length`` units stepping along ``axis`` only; the other axes at the first index from their start
    whose unit some pixel influences (after a transposed conv with kernel < stride, some see none)."""
    fixed = list(starts)
    for other in range(len(starts)):
        if other != axis:
            n = rf.feature_size[other]
            fixed[other] = next((v % n for v in range(starts[other], starts[other] + n)
                                 if rf.image_box(tuple(v % n if a == other else fixed[a] for a in range(len(fixed))))
                                 is not None), starts[other])
    return [tuple(fixed[a] + (k if a == axis else 0) for a in range(len(fixed))) for k in range(length)]


def _check_image_boxes(rf, units, boxes) -> None:
    """(a): the pixels inside the image that influence each unit."""
    wrong = [(u, rf.image_box(u), box) for u, box in zip(units, boxes, strict=True)
             if (None if rf.image_box(u) is None else tuple(map(tuple, rf.image_box(u)))) != box]
    assert not wrong, "rf.image_box(unit) != oracle box for (unit, analytic, oracle): " + repr(wrong)


def _check_theoretical(rf, units, boxes, axis: int) -> None:
    """(b) on one axis: theoretical boxes of the interior window, then r, r_min, jump and start."""
    period = int(rf.period[axis])
    assert rf.period[axis] == period >= 1
    along = [u[axis] for u in units]
    measured = [box[axis] for box in boxes]
    analytic = [_axis_box(rf, axis, u) for u in along]
    assert analytic == measured, f"axis {axis}: rf.box != oracle box over units {along}"
    extents = [hi - lo + 1 for lo, hi in measured[:period]]  # one unit of every phase
    jump = Fraction(measured[period][0] - measured[0][0], period)
    # unit k * period has box(0) shifted by k * period * jump: its centre minus that shift is start
    zero = next(i for i, u in enumerate(along) if u % period == 0)
    lo, hi = measured[zero]
    start = Fraction(lo + hi + 1, 2) - along[zero] * jump
    got = (rf.size[axis], rf.size_min[axis], rf.jump[axis], rf.start[axis])
    # the report gives fractional numbers to 4 decimals (16/15 as 1.0667): equal to within half of the last
    assert got == pytest.approx((max(extents), min(extents), float(jump), float(start)), abs=5e-5), (
        f"axis {axis}: analytic (r, r_min, jump, start) {got} vs oracle over units {along[0]}..{along[-1]}")


def _check_interior(rf, model, input_size, starts, interior, length, units=None, boxes=None) -> int:
    """(b) on every interior axis; reuses the diagonal window's boxes when none is empty. Returns the
    number of axes checked (an axis whose window has units that no pixel influences is left out)."""
    checked = 0
    diagonal = boxes is not None and all(box is not None for box in boxes)
    for axis in interior:
        if diagonal:
            axis_units, axis_boxes = units, boxes
        else:
            axis_units = _along(rf, starts, axis, length)
            axis_boxes = gradient_boxes(model, input_size, axis_units)
        if all(box is not None for box in axis_boxes):
            _check_theoretical(rf, axis_units, axis_boxes, axis)
            checked += 1
    return checked


@cache
def _measure(name: str):
    """The analytic field, the window and the oracle's boxes of one network (shared by (a) and (b))."""
    net = NETS[name]
    model = net.build().eval()
    rf = cnnlab.inspect(model, net.input_size).receptive_field
    with torch.no_grad():
        spatial = tuple(model(torch.zeros(net.input_size)).shape[2:])
    assert tuple(rf.feature_size) == spatial, "the analytic field is not reported at the measured map"
    starts, interior = _window(rf, net.input_size, net.window)
    units = _diagonal(starts, tuple(rf.feature_size), net.window)
    return model, rf, starts, interior, units, gradient_boxes(model, net.input_size, units)


def test_enough_networks_have_an_interior_window():
    assert len(NETS) >= 25 and sum(net.interior for net in NETS.values()) >= 25
    for net in NETS.values():
        spatial = net.input_size[2:]
        assert all(n % 2 == 1 for n in spatial) and len(set(spatial)) == len(spatial), net.name


@pytest.mark.parametrize("name", sorted(NETS))
def test_image_boxes_match_the_oracle(name):
    _, rf, _, _, units, boxes = _measure(name)
    assert len(units) == NETS[name].window
    _check_image_boxes(rf, units, boxes)


@pytest.mark.parametrize("name", sorted(name for name, net in NETS.items() if net.interior))
def test_theoretical_field_matches_the_oracle_on_interior_units(name):
    net = NETS[name]
    model, rf, starts, interior, units, boxes = _measure(name)
    assert interior, (f"no axis has an interior window of max({net.window}, period + 1) units: r={rf.size}, "
                      f"period={rf.period}, jump={rf.jump}, map {rf.feature_size}, input {net.input_size}")
    assert _check_interior(rf, model, net.input_size, starts, interior, net.window, units, boxes) == len(interior)


# --- random sequential stacks: every padding mode (also negative), upsampling, transposed convs ---
class Pad(nn.Module):
    def __init__(self, pads: tuple[int, int, int, int], mode: str) -> None:
        super().__init__()
        self.pads, self.mode = pads, mode

    def forward(self, x):
        if self.mode == "circular":  # torch wraps only once: a pad larger than the cropped map is undefined
            for size, before, after in zip(x.shape[-2:], self.pads[2::-2], self.pads[3::-2], strict=True):
                kept = size - max(0, -before) - max(0, -after)
                if before > kept or after > kept:
                    raise RuntimeError("circular pad wraps more than once")
        return F.pad(x, self.pads, mode=self.mode)


@st.composite
def layer(draw):
    """One layer and its per-axis geometry: (module, [(jump factor, crop before, crop after) per axis])."""
    kind = draw(st.sampled_from(["conv", "conv", "pool", "pad", "upsample", "deconv"]))
    pair = st.tuples
    if kind == "conv":
        k = draw(pair(st.integers(1, 5), st.integers(1, 5)))
        s = draw(pair(st.integers(1, 3), st.integers(1, 3)))
        d = draw(pair(st.integers(1, 3), st.integers(1, 3)))
        if s == (1, 1) and draw(st.booleans()):
            return nn.Conv2d(2, 2, k, dilation=d, padding="same"), [(Fraction(1), 0, 0)] * 2
        p = draw(pair(st.integers(0, 3), st.integers(0, 3)))
        return nn.Conv2d(2, 2, k, s, p, d), [(Fraction(v), 0, 0) for v in s]
    if kind == "pool":
        k = draw(pair(st.integers(1, 4), st.integers(1, 4)))
        s = draw(pair(st.integers(1, 3), st.integers(1, 3)))
        p = tuple(draw(st.integers(0, v // 2)) for v in k)
        ceil = draw(st.booleans())
        if draw(st.booleans()):
            d = draw(pair(st.integers(1, 2), st.integers(1, 2)))
            return nn.MaxPool2d(k, s, p, d, ceil_mode=ceil), [(Fraction(v), 0, 0) for v in s]
        return nn.AvgPool2d(k, s, p, ceil_mode=ceil), [(Fraction(v), 0, 0) for v in s]
    if kind == "pad":
        mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
        pads = tuple(draw(st.integers(-2, 3)) for _ in range(4))  # (left, right, top, bottom)
        crops = [(max(0, -pads[2]), max(0, -pads[3])), (max(0, -pads[0]), max(0, -pads[1]))]
        return Pad(pads, mode), [(Fraction(1), lo, hi) for lo, hi in crops]
    if kind == "upsample":
        scale = draw(pair(st.sampled_from([2, 3, 1.5]), st.sampled_from([2, 3, 1.5])))
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        return nn.Upsample(scale_factor=scale, mode=mode), [(1 / Fraction(v), 0, 0) for v in scale]
    k = draw(pair(st.integers(1, 4), st.integers(1, 4)))
    s = draw(pair(st.integers(1, 3), st.integers(1, 3)))
    p = tuple(draw(st.integers(0, v - 1)) for v in k)
    out_p = tuple(draw(st.integers(0, v - 1)) for v in s)
    # padding p of a transposed conv crops p positions of its output, up to ceil(p / s) + 1 input positions'
    # worth of field (at the output end, the first cropped position can read input n - 1 - ceil(p / s))
    return nn.ConvTranspose2d(2, 2, k, s, p, out_p), [(1 / Fraction(v), -(-q // v) + 1, -(-q // v) + 1)
                                                      for v, q in zip(s, p, strict=True)]


def _margins(geometry: list[list[tuple[Fraction, int, int]]]) -> list[tuple[int, int]]:
    """Pixels a unit's box must keep from each end so that its cone misses every cropped position: a crop
    of c positions where the jump is j hides c * j pixels' worth of field (rounded up)."""
    margins = []
    for axis in (0, 1):
        jump, lo, hi = Fraction(1), Fraction(0), Fraction(0)
        for step in geometry:
            factor, crop_lo, crop_hi = step[axis]
            lo, hi = lo + crop_lo * jump, hi + crop_hi * jump
            jump *= factor
        margins.append((math.ceil(lo), math.ceil(hi)))
    return margins


@settings(deadline=None)  # examples: the suite's hypothesis profile (ci 40)
@given(layers=st.lists(layer(), min_size=1, max_size=4), h=st.integers(9, 40), w=st.integers(9, 40))
def test_random_stacks_match_the_oracle(layers, h, w):
    model = nn.Sequential(nn.Conv2d(1, 2, 1), *(m for m, _ in layers)).eval()
    size = (1, 1, h, w)
    try:
        with torch.no_grad():
            out = model(torch.zeros(size))
    except RuntimeError:  # the drawn sizes do not fit (window larger than the padded map, pad > size ...)
        assume(False)
    assume(0 < out.shape[2] <= 80 and 0 < out.shape[3] <= 80)
    rf = cnnlab.inspect(model, size).receptive_field
    assert tuple(rf.feature_size) == tuple(out.shape[2:])
    # (a) every unit: units (k mod H, k mod W) visit every row and every column, and per-axis boxes of a
    # unit depend on its index along that axis only
    every = _diagonal([0, 0], tuple(out.shape[2:]), max(out.shape[2:]))
    _check_image_boxes(rf, every, gradient_boxes(model, size, every))
    # (b) theoretical numbers where an interior window exists
    length = max(int(p) for p in rf.period if p is not None) + 1 if any(p is not None for p in rf.period) else 1
    starts, interior = _window(rf, size, length, _margins([[(Fraction(1), 0, 0)] * 2] + [g for _, g in layers]))
    _check_interior(rf, model, size, starts, interior, length)
