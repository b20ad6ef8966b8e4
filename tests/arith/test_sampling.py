"""What each output position reads (arith.sampling) against torch's own ops, and the exact per-unit field.

Reference: torch itself. Each op runs on the identity (input i = a one-hot at position i, float64), so the
nonzero outputs are exactly the positions that read input i.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnnlab import ConfigError
from cnnlab.arith.field import INPUT_AXIS, AxisField
from cnnlab.arith.sampling import (
    Adaptive,
    Flip,
    Interpolate,
    Pad,
    PixelShuffle,
    Transposed,
    Window,
    interpolation_scale,
)


def torch_reads(op, n_in: int) -> list[tuple[int, ...]]:  # noqa: ANN001
    """Per output position, the sorted input positions with a nonzero weight, from torch."""
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 1, 1, n_in)  # batch i: one-hot at i, along W
    out = op(eye)[:, 0, 0, :]  # (input i, output o)
    return [tuple(int(i) for i in torch.nonzero(out[:, o]).flatten()) for o in range(out.shape[1])]


def ours(sampling, n_in: int, n_out: int) -> list[tuple[int, ...]]:  # noqa: ANN001
    return [sampling.real(o, n_in) for o in range(n_out)]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(("n_in", "n_out", "factor"),
                         [(7, 14, 2.0), (5, 15, 3.0), (9, 13, None), (8, 12, 1.5), (12, 5, None), (6, 6, None),
                          (10, 4, 0.4), (11, 22, None), (1, 3, None)])
def test_interpolation_reads_what_torch_reads(mode, align_corners, n_in, n_out, factor):
    if mode.startswith("nearest") and align_corners:
        pytest.skip("align_corners only applies to the linear and cubic modes")
    if mode == "bicubic" and n_in < 2:
        pytest.skip("a one-pixel map")
    align = align_corners if mode in ("bilinear", "bicubic") else None
    kwargs = {"scale_factor": (1.0, factor)} if factor else {"size": (1, n_out)}
    reference = torch_reads(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kwargs), n_in)
    assert len(reference) == n_out
    q = interpolation_scale(n_in, n_out, factor if not align_corners else None, bool(align_corners))
    sampling = Interpolate(mode, q, bool(align_corners) if mode in ("bilinear", "bicubic") else False)
    if factor == 3.0 and mode in ("bilinear", "bicubic") and not align_corners:
        # torch computes (o + 1/2)/3 - 1/2 in floating point: where the exact source is a whole pixel it adds a
        # neighbour with a weight of rounding size (~1e-16), which the exact arithmetic does not count
        assert all(set(a) <= set(b) for a, b in zip(ours(sampling, n_in, n_out), reference, strict=True))
        return
    assert ours(sampling, n_in, n_out) == reference


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(("left", "right"), [(2, 1), (0, 3), (-2, 1), (3, -1)])
def test_padding_reads_what_torch_reads(mode, left, right):
    n_in = 6
    if mode != "constant" and (left < 0 or right < 0):
        pytest.skip("torch crops only in constant mode")
    reference = torch_reads(lambda x: F.pad(x, (left, right, 0, 0), mode=mode), n_in)
    assert ours(Pad(left, mode), n_in, n_in + left + right) == reference


@given(k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 3), d=st.integers(1, 3),
       n_in=st.integers(4, 12), mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
def test_conv_windows_read_what_torch_reads(k, s, p, d, n_in, mode):
    if d * (k - 1) + 1 > n_in + 2 * p or (mode == "reflect" and p >= n_in) or (mode == "circular" and p > n_in):
        return
    conv = torch.nn.Conv2d(1, 1, (1, k), (1, s), (0, p), (1, d), bias=False, padding_mode=mode).double()
    torch.nn.init.ones_(conv.weight)
    reference = torch_reads(conv, n_in)
    assert ours(Window(k, s, p, d, mode), n_in, len(reference)) == reference


@given(k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 3), d=st.integers(1, 3),
       n_in=st.integers(3, 9), op=st.integers(0, 2))
def test_transposed_conv_reads_what_torch_reads(k, s, p, d, n_in, op):
    if op >= max(s, d) or (n_in - 1) * s - 2 * p + d * (k - 1) + op + 1 <= 0:
        return
    deconv = torch.nn.ConvTranspose2d(1, 1, (1, k), (1, s), (0, p), (0, op), dilation=(1, d), bias=False).double()
    torch.nn.init.ones_(deconv.weight)
    reference = torch_reads(deconv, n_in)
    assert ours(Transposed(k, s, p, d), n_in, len(reference)) == reference


@pytest.mark.parametrize(("n_in", "n_out"), [(7, 3), (10, 4), (5, 5), (3, 7), (224, 7)])
def test_adaptive_pooling_reads_what_torch_reads(n_in, n_out):
    reference = torch_reads(lambda x: F.adaptive_avg_pool2d(x, (1, n_out)), n_in)
    assert ours(Adaptive(n_in, n_out), n_in, n_out) == reference


def test_pixel_shuffle_and_flip_read_what_torch_reads():
    n = 5
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 1, n).repeat(1, 4, 1, 1)  # 4 = r² channels
    out = F.pixel_shuffle(eye, 2)[:, 0, 0, :]  # row 0 of the output: reads row 0, columns o // 2
    reads = [tuple(int(i) for i in torch.nonzero(out[:, o]).flatten()) for o in range(2 * n)]
    assert reads == ours(PixelShuffle(2), n, 2 * n)
    assert torch_reads(lambda x: torch.flip(x, (-1,)), n) == ours(Flip(), n, n)


@pytest.mark.parametrize(("up", "period", "r_min", "r"), [
    (Interpolate("bilinear", Fraction(1, 3)), 3, 5, 7),  # x3: every third unit sits on a feature, reads one
    (Transposed(3, 2, 1), 2, 5, 7),  # k3 s2: even units read two features, odd ones one
])
def test_units_after_upsampling_see_different_extents(up, period, r_min, r):
    # conv k3 s2 p1, the upsampling, conv k3 p1: the units of one period read different numbers of inputs
    f = INPUT_AXIS
    for op in (Window(3, 2, 1), up, Window(3, 1, 1)):
        f = f.through(op)
    extents = [f.box(u)[1] - f.box(u)[0] + 1 for u in range(f.period)]
    assert (f.period, min(extents), max(extents)) == (period, r_min, r) == (f.period, f.r_min, f.r)


def test_lecture_recurrence_is_the_conv_case():
    # lecture, "Receptive field": two convs k=3 p=1 s=2 from (r, j, start) = (1, 1, 0.5) give (7, 4, 0.5)
    f = INPUT_AXIS.through(Window(3, 2, 1)).through(Window(3, 2, 1))
    assert (f.r, f.r_min, f.jump, f.start, f.period) == (7, 7, 4, Fraction(1, 2), 1)


def test_fields_of_different_jumps_do_not_merge_and_bad_values_are_named():
    a, b = INPUT_AXIS.through(Window(3, 2, 1)), INPUT_AXIS
    assert a.union(b) is None
    with pytest.raises(ConfigError, match="mode"):
        Pad(1, "mirror")
    with pytest.raises(ConfigError, match="stride|s "):
        Window(3, 0)
    with pytest.raises(ConfigError, match="period"):
        AxisField(2, 1, ((0, 0),))
