"""Cost formulas against MACs and parameters counted on real torch layers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnlab import ConfigError, arith, units


def counted_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of every Conv2d / Linear in ``model``, counted by forward hooks on a real forward.

    A conv output element costs ``(in_channels / groups) * kh * kw`` MACs; a linear one ``in_features``.
    """
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        else:
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return total


def weight_count(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_mobilenet_ratio_dk3_n64_against_real_layers():
    # MobileNet v1, Sec. 3.1: ratio 1/N + 1/Dk^2; Dk=3, N=64 -> 0.12674
    dk, m, n, df = 3, 32, 64, 14
    x = torch.zeros(1, m, df, df)
    standard = nn.Conv2d(m, n, dk, padding=1, bias=False)
    separable = units.DepthwiseSeparableConv(m, n, dk).eval()
    standard_macs, separable_macs = counted_macs(standard, x), counted_macs(separable, x)
    assert arith.conv_macs(dk, m, n, df) == standard_macs
    assert arith.depthwise_separable_macs(dk, m, n, df) == separable_macs
    assert arith.separable_cost_ratio(dk=3, n=64) == pytest.approx(separable_macs / standard_macs, rel=1e-12)
    assert round(arith.separable_cost_ratio(dk=3, n=64), 5) == 0.12674
    assert arith.separable_cost_ratio(dk=3, n=64) == 1 / 64 + 1 / 9
    assert arith.conv_params(dk, m, n) == weight_count(standard)
    assert arith.depthwise_separable_params(dk, m, n) == weight_count(separable)


@given(
    dk=st.integers(1, 5),
    per_group_in=st.integers(1, 4),
    per_group_out=st.integers(1, 4),
    groups=st.integers(1, 4),
    size=st.integers(5, 12),
    stride=st.integers(1, 3),
)
def test_grouped_conv_against_real_layer(dk, per_group_in, per_group_out, groups, size, stride):
    m, n = per_group_in * groups, per_group_out * groups
    conv = nn.Conv2d(m, n, dk, stride=stride, groups=groups, bias=True)
    df = arith.conv_output_size(size, dk, s=stride)  # explicit output size, as the formulas take it
    assert arith.grouped_conv_macs(dk, m, n, df, groups) == counted_macs(conv, torch.zeros(1, m, size, size))
    assert arith.grouped_conv_params(dk, m, n, groups, bias=True) == sum(p.numel() for p in conv.parameters())


def test_rectangular_kernel_and_output():
    conv = nn.Conv2d(4, 6, (3, 1), bias=False)
    x = torch.zeros(1, 4, 9, 7)
    assert arith.conv_macs((3, 1), 4, 6, (7, 7)) == counted_macs(conv, x)


def test_linear_against_real_layer():
    fc = nn.Linear(512, 1000)
    assert arith.linear_macs(512, 1000) == counted_macs(fc, torch.zeros(1, 512))
    assert arith.linear_params(512, 1000) == sum(p.numel() for p in fc.parameters())


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: arith.grouped_conv_macs(3, 30, 64, 8, groups=4), "m \\(input channels\\)=30 is not divisible"),
        (lambda: arith.grouped_conv_params(3, 32, 30, groups=4), "n \\(output channels\\)=30"),
        (lambda: arith.conv_macs(0, 32, 64, 8), "dk"),
        (lambda: arith.conv_macs(3, 32, 64, -1), "df"),
        (lambda: arith.separable_cost_ratio(3, 0), "n \\(output channels\\)"),
        (lambda: arith.linear_macs(0, 10), "in_features"),
    ],
)
def test_bad_costs_name_the_parameter(call, named):
    with pytest.raises(ConfigError, match=named):
        call()
