"""Every candidate op keeps C channels; stride 1 keeps, stride 2 halves the resolution like torch's
own stride-2 pooling with padding k//2 (output = floor((H + 2p - k) / 2) + 1 = ceil(H / 2))."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nas.ops import LECTURE_OPS, OP_NAMES, FactorizedReduce, make_op

# The lecture's list of candidate operations (NASNet, Zoph et al. 2018, Sec. 3), in its order.
LECTURE_LIST = [
    "identity", "1x7 then 7x1 convolution", "3x3 average pooling", "5x5 max pooling", "1x1 convolution",
    "3x3 depthwise-separable conv", "7x7 depthwise-separable conv", "1x3 then 3x1 convolution",
    "3x3 dilated convolution", "3x3 max pooling", "7x7 max pooling", "3x3 convolution",
    "5x5 depthwise-separable conv",
]


def test_thirteen_lecture_ops_plus_none():
    assert len(LECTURE_OPS) == len(LECTURE_LIST) == 13
    assert set(OP_NAMES) == set(LECTURE_OPS) | {"none"}


@pytest.mark.parametrize("name", OP_NAMES)
@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("stride", [1, 2])
def test_op_output_shape(name, size, stride):
    channels = 6
    x = torch.randn(2, channels, size, size)
    reference = nn.MaxPool2d(3, stride=stride, padding=1)(x)  # torch's own "same"-style shape
    op = make_op(name, channels, stride).eval()
    assert op(x).shape == reference.shape


@pytest.mark.parametrize("name", ["sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"])
def test_separable_ops_are_depthwise_then_pointwise(name):
    k = int(name[-1])
    convs = [m for m in make_op(name, 8, 1).modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.groups) for c in convs] == [((k, k), 8), ((1, 1), 1)] * 2


def test_factorized_reduce_halves_odd_and_even_sizes():
    for size in (7, 8):
        out = FactorizedReduce(4, 10)(torch.randn(1, 4, size, size))
        assert out.shape == (1, 10, (size + 1) // 2, (size + 1) // 2)


def test_unknown_op_or_stride_is_config_error():
    with pytest.raises(ConfigError, match="conv_9x9"):
        make_op("conv_9x9", 8, 1)
    with pytest.raises(ConfigError, match="stride"):
        make_op("conv_3x3", 8, 3)
