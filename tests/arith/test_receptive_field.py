"""The receptive-field recurrence against the lecture's worked example and against gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnlab import ConfigError, arith


def test_lecture_two_conv_example():
    # lecture, "Receptive field": n0=5 r0=1 j0=1 start0=0.5; two convs k=3 p=1 s=2
    rows = arith.receptive_field([arith.Layer(k=3, s=2, p=1), arith.Layer(k=3, s=2, p=1)], n=5)
    lecture = [(5, 1, 1, 0.5), (3, 3, 2, 0.5), (2, 7, 4, 0.5)]  # (n, r, j, start) for layers 0, 1, 2
    assert [(row.n, row.r, row.j, row.start) for row in rows] == lecture
    assert rows[0].name == "input"


def test_feature_center_is_start_plus_i_jump():
    rows = arith.receptive_field(arith.parse_layers("conv k3 s2 p1, conv k3 s2 p1"), n=5)
    # lecture picture: the second feature of layer 2 is centred 4 pixels right of the first
    assert arith.feature_center(rows[-1], 1) == 4.5
    with pytest.raises(ConfigError, match="feature index"):
        arith.feature_center(rows[-1], 2)


def ones_stack(layers: list[arith.Layer]) -> nn.Sequential:
    """A real conv stack with the layers' geometry; all-ones weights so no gradient cancels."""
    modules: list[nn.Module] = []
    for layer in layers:
        cls = nn.ConvTranspose2d if layer.kind == "deconv" else nn.Conv2d
        extra = {"output_padding": layer.output_padding} if layer.kind == "deconv" else {}
        conv = cls(1, 1, layer.k, stride=layer.s, padding=layer.p, dilation=layer.d, bias=False, **extra)
        nn.init.ones_(conv.weight)
        modules.append(conv)
    return nn.Sequential(*modules)


def gradient_span(stack: nn.Module, n: int, out_h: int, out_w: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Rows and columns (first, last) of the input pixels with a nonzero gradient for one output."""
    x = torch.zeros(1, 1, n, n, requires_grad=True)
    stack(x)[0, 0, out_h, out_w].backward()
    touched = x.grad[0, 0] != 0
    rows = touched.any(dim=1).nonzero().flatten()
    cols = touched.any(dim=0).nonzero().flatten()
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def unclipped_middle(row: arith.RFRow, n: int) -> int | None:
    """A feature of ``row`` whose receptive field lies inside ``[0, n]``, near the middle."""
    inside = [i for i in range(row.n) if row.start + i * row.j - row.r / 2 >= 0 and row.start + i * row.j + row.r / 2 <= n]
    return inside[len(inside) // 2] if inside else None


layer_pairs = st.tuples(
    st.integers(1, 5), st.integers(1, 5),  # k (h, w)
    st.integers(1, 3), st.integers(1, 3),  # s
    st.integers(0, 2), st.integers(0, 2),  # p
    st.integers(1, 3), st.integers(1, 3),  # d
).map(lambda v: arith.Layer(k=v[0:2], s=v[2:4], p=v[4:6], d=v[6:8]))


def input_size_with_room(layers: list[arith.Layer]) -> int:
    """An input large enough that some output feature's receptive field is not clipped."""
    needed = 0
    for axis in (0, 1):
        rows = arith.receptive_field(layers, n=10**6, axis=axis)  # j, r, start do not depend on n
        padding = sum(layer.along(axis).p * row.j for layer, row in zip(layers, rows, strict=False))
        needed = max(needed, rows[-1].r + 4 * rows[-1].j + 2 * padding)
    return int(needed) + 1


@given(layers=st.lists(layer_pairs, min_size=1, max_size=3))
def test_recurrence_matches_gradient_receptive_field(layers):
    n = input_size_with_room(layers)
    rows_h, rows_w = arith.receptive_field_2d(layers, size=n)
    stack = ones_stack(layers)
    with torch.no_grad():
        assert stack(torch.zeros(1, 1, n, n)).shape[-2:] == (rows_h[-1].n, rows_w[-1].n)
    out_h, out_w = unclipped_middle(rows_h[-1], n), unclipped_middle(rows_w[-1], n)
    assert out_h is not None and out_w is not None
    spans = gradient_span(stack, n, out_h, out_w)
    for (first, last), row, i in zip(spans, (rows_h[-1], rows_w[-1]), (out_h, out_w), strict=True):
        # pixel p covers [p, p + 1), so the touched pixels span [first, last + 1]
        assert last + 1 - first == row.r
        assert (first + last + 1) / 2 == arith.feature_center(row, i)


def width_spans(stack: nn.Module, n: int, row: arith.RFRow) -> dict[int, tuple[int, int]]:
    """(first, last) touched input column for every unclipped output column of ``row``."""
    inside = [o for o in range(row.n) if row.start + o * row.j - row.r / 2 >= 0
              and row.start + o * row.j + row.r / 2 <= n]
    x = torch.zeros(1, 1, 1, n, requires_grad=True)
    y = stack(x)
    spans = {}
    for o in inside:
        (grad,) = torch.autograd.grad(y[0, 0, 0, o], x, retain_graph=True)
        touched = grad[0, 0, 0].nonzero().flatten()
        if len(touched):  # a transposed conv whose stride and dilation share a factor leaves holes
            spans[o] = (int(touched[0]), int(touched[-1]))
    return spans


@pytest.mark.parametrize(
    "deconv",
    ["deconv k3 s2 p1", "deconv k5 s2 p2", "deconv k3 s2 p0 d2", "deconv k4 s3 p1", "deconv k7 s3 p3 op1"],
)
def test_transposed_conv_recurrence_matches_gradient(deconv):
    # s divides k_eff - 1 here, so the widest output windows cover exactly r (module docstring)
    layers = arith.parse_layers(f"conv k3 s2 p1, {deconv}")
    n = 40
    row = arith.receptive_field(layers, n)[-1]
    stack = ones_stack([arith.Layer(k=(1, layer.k), s=(1, layer.s), p=(0, layer.p), d=(1, layer.d),
                                    kind=layer.kind, output_padding=(0, layer.output_padding)) for layer in layers])
    assert stack(torch.zeros(1, 1, 1, n)).shape[-1] == row.n
    spans = width_spans(stack, n, row)
    widths = {o: last + 1 - first for o, (first, last) in spans.items()}
    assert max(widths.values()) == row.r
    for o, (first, last) in spans.items():
        if widths[o] == row.r:
            assert (first + last + 1) / 2 == arith.feature_center(row, o)


def test_transposed_conv_r_is_an_upper_bound_when_stride_does_not_divide():
    layers = arith.parse_layers("deconv k4 s2 p1")  # the usual 2x learned upsampling: k_eff - 1 = 3
    row = arith.receptive_field(layers, 12)[-1]
    stack = ones_stack([arith.Layer(k=(1, 4), s=(1, 2), p=(0, 1), kind="deconv")])
    spans = width_spans(stack, 12, row)
    assert spans and all(last + 1 - first <= row.r for first, last in spans.values())


@pytest.mark.parametrize(("mode", "factor"), [("nearest", 2), ("bilinear", 2), ("nearest", 3), ("bilinear", 4)])
def test_upsample_recurrence_matches_gradient(mode, factor):
    layers = arith.parse_layers(f"conv k3 s2 p1, up s{factor} {mode}")
    n = 24
    rows = arith.receptive_field(layers, n)
    conv = ones_stack([arith.Layer(k=(1, 3), s=(1, 2), p=(0, 1))])
    stack = nn.Sequential(*conv, nn.Upsample(scale_factor=(1, factor), mode=mode))
    assert stack(torch.zeros(1, 1, 1, n)).shape[-1] == rows[-1].n
    assert rows[-1].j == rows[-2].j / factor
    spans = width_spans(stack, n, rows[-1])
    widths = [last + 1 - first for first, last in spans.values()]
    assert max(widths) == rows[-1].r  # nearest: one feature; bilinear: two neighbours at most


def test_bad_layers_name_the_parameter():
    with pytest.raises(ConfigError, match="kind"):
        arith.Layer(k=3, kind="dense")
    with pytest.raises(ConfigError, match="p "):
        arith.Layer(k=3, p=-1)
    with pytest.raises(ConfigError, match="layer 2"):  # input 2 -> 1 -> too small for k=3 without padding
        arith.receptive_field(arith.parse_layers("conv k3 s2 p1, conv k3"), n=2)


@pytest.mark.parametrize("name", ["r0", "j0", "start0"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_or_infinite_starting_values_are_refused(name, value):
    """Fraction(nan) is a ValueError and Fraction(inf) an OverflowError: both must arrive as a ConfigError."""
    with pytest.raises(ConfigError, match=f"receptive_field: {name} must be a finite number, got {value}"):
        arith.receptive_field([arith.Layer(k=3)], 5, **{name: value})
