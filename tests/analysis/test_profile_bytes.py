"""Property tests of the profile's arithmetic: any convolution's bytes are the hand formula, at any dtype and
layout; the roofline's attainable rate is min(peak, intensity × bandwidth)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnlab.analysis.profile import Machine
from cnnlab.analysis.profile.result import cost_of
from cnnlab.analysis.profile.traffic import bytes_moved, plot_kind
from cnnlab.analysis.rules import Call


@st.composite
def convs(draw):  # noqa: ANN001, ANN201
    groups = draw(st.sampled_from([1, 2, 4]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    return (c_in, c_out, k, draw(st.integers(1, 2)), draw(st.integers(0, 1)), groups, draw(st.booleans()),
            draw(st.integers(1, 2)), draw(st.integers(k, 9)), draw(st.integers(k, 9)),
            draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16])), draw(st.booleans()))


@given(convs())
def test_any_convolution_moves_the_hand_formula_bytes(case):
    c_in, c_out, k, stride, padding, groups, bias, n, h, w, dtype, channels_last = case
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, groups=groups, bias=bias).to(dtype)
    x = torch.randn(n, c_in, h, w, dtype=dtype)
    if channels_last:
        x, conv = x.to(memory_format=torch.channels_last), conv.to(memory_format=torch.channels_last)
    with torch.no_grad():
        out = conv(x)
    h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    size = torch.tensor([], dtype=dtype).element_size()
    # input N*C*H*W + output N*C_out*H_out*W_out + weight C_out*(C_in/groups)*k*k + bias C_out, times the dtype's size
    expected = size * (n * c_in * h * w + n * c_out * h_out * w_out + c_out * (c_in // groups) * k * k
                       + (c_out if bias else 0))
    call = Call(nn.Conv2d, (x,), module=conv, output=out)
    assert bytes_moved("conv", call) == expected
    depthwise = groups > 1 and groups == c_in
    assert plot_kind("conv", call) == ("depthwise conv" if depthwise else
                                       "pointwise" if groups == 1 and k == 1 else "conv")


@given(st.floats(1e6, 1e13), st.floats(1e6, 1e12), st.integers(1, 10**12), st.integers(1, 10**12),
       st.floats(1e-9, 10.0))
def test_attainable_is_the_lower_roof(peak, bandwidth, flops, nbytes, seconds):
    machine = Machine(peak, bandwidth, 1)
    row = cost_of(flops // 2, flops, nbytes, seconds, machine)
    intensity = flops / nbytes
    assert row["intensity"] == pytest.approx(intensity)
    assert row["attainable_flops"] == pytest.approx(min(peak, intensity * bandwidth))
    assert row["share"] == pytest.approx(flops / seconds / row["attainable_flops"])
    assert row["bound"] == ("compute" if intensity >= peak / bandwidth else "memory")
