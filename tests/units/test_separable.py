"""Depthwise, pointwise and depthwise-separable convolutions (MobileNet v1, Fig. 3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import ConfigError
from cnnlab.units import ConvNormAct, DepthwiseSeparableConv, depthwise, pointwise


def test_helpers_build_the_right_convs():
    dw = depthwise(16, 5, stride=2, dilation=2)
    assert isinstance(dw, ConvNormAct)
    assert (dw.conv.groups, dw.conv.in_channels, dw.conv.out_channels) == (16, 16, 16)
    assert dw.conv.padding == (4, 4)  # "same" for stride 1: d(k - 1) / 2
    assert depthwise(8, channel_multiplier=2).conv.out_channels == 16
    pw = pointwise(16, 32, groups=4)
    assert pw.conv.kernel_size == (1, 1) and pw.conv.groups == 4


def test_mobilenet_fig3_layout_and_forward():
    block = DepthwiseSeparableConv(8, 16, stride=2).eval()
    for part in (block.depthwise.bn, block.pointwise.bn):  # non-trivial statistics
        nn.init.uniform_(part.running_mean, -1, 1)
        nn.init.uniform_(part.running_var, 0.5, 2)
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        h = F.relu(block.depthwise.bn(F.conv2d(x, block.depthwise.conv.weight, stride=2, padding=1, groups=8)))
        expected = F.relu(block.pointwise.bn(F.conv2d(h, block.pointwise.conv.weight)))
        torch.testing.assert_close(block(x), expected)
    assert block(x).shape == (2, 16, 5, 5)


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: DepthwiseSeparableConv(8, 16, kernel_size=0), "DepthwiseSeparableConv.*kernel_size"),
        (lambda: DepthwiseSeparableConv(8, 16, stride=-2), "DepthwiseSeparableConv.*stride"),
        (lambda: DepthwiseSeparableConv(0, 16), "DepthwiseSeparableConv.*in_channels"),
        (lambda: depthwise(8, channel_multiplier=0), "depthwise.*channel_multiplier"),
        (lambda: pointwise(6, 8, groups=4), "in_channels=6 is not divisible by groups=4"),
    ],
)
def test_bad_hyper_parameters(build, named):
    with pytest.raises(ConfigError, match=named):
        build()
