"""Output sizes against the shapes torch's own layers produce, and torch's rejections."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from cnnlab import ConfigError, arith

sizes = st.integers(1, 24)
kernels = st.integers(1, 7)
paddings = st.integers(0, 5)
strides = st.integers(1, 4)
dilations = st.integers(1, 3)


def torch_width(module: nn.Module, n: int) -> int | str:
    """Output width torch gives for an ``n x n`` input, or the message of the error torch raises."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return module(torch.zeros(1, 1, n, n)).shape[-1]
        except RuntimeError as exc:
            return str(exc)


def test_lecture_dilated_example():
    # lecture, "Dilated Convolution": 7x7 input, F=3, P=0, S=1, d=2 -> 3x3 output, kernel spans 5
    assert arith.conv_output_size(7, k=3, p=0, s=1, d=2) == 3
    assert arith.effective_kernel(3, d=2) == 5
    assert torch_width(nn.Conv2d(1, 1, 3, dilation=2), 7) == 3


@given(n=sizes, k=kernels, p=paddings, s=strides, d=dilations)
@example(n=3, k=3, p=0, s=1, d=2)  # padded input 3 < effective kernel 5: torch rejects it
def test_conv_output_size_matches_conv2d(n, k, p, s, d):
    expected = torch_width(nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False), n)
    if isinstance(expected, str):  # torch: "Kernel size can't be greater than actual input size"
        with pytest.raises(ConfigError, match="input size"):
            arith.conv_output_size(n, k, p=p, s=s, d=d)
    else:
        assert arith.conv_output_size(n, k, p=p, s=s, d=d) == expected


@given(n=sizes, k=kernels, p=paddings, s=strides, d=dilations, ceil_mode=st.booleans())
@example(n=8, k=3, p=2, s=1, d=1, ceil_mode=False)  # padding over half the kernel
@example(n=2, k=5, p=0, s=1, d=1, ceil_mode=False)  # output size too small
@example(n=4, k=2, p=1, s=3, d=1, ceil_mode=True)  # last window would start in the right padding
@example(n=1, k=2, p=0, s=2, d=1, ceil_mode=True)  # one window overhanging the input: allowed
def test_pool_output_size_matches_maxpool2d(n, k, p, s, d, ceil_mode):
    pool = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    expected = torch_width(pool, n)
    if isinstance(expected, str):
        # torch: "pad should be at most half of ... kernel size" or "Output size is too small"
        parameter = "padding" if "pad should be" in expected else "input size"
        with pytest.raises(ConfigError, match=parameter):
            arith.pool_output_size(n, k, s=s, p=p, d=d, ceil_mode=ceil_mode)
    else:
        assert arith.pool_output_size(n, k, s=s, p=p, d=d, ceil_mode=ceil_mode) == expected
        assert arith.conv_output_size(n, k, p=p, s=s, d=d, ceil_mode=ceil_mode) == expected


@given(n=sizes, k=kernels)
def test_pool_stride_defaults_to_kernel(n, k):
    expected = torch_width(nn.MaxPool2d(k), n)
    if isinstance(expected, str):
        with pytest.raises(ConfigError):
            arith.pool_output_size(n, k)
    else:
        assert arith.pool_output_size(n, k) == expected


@given(n=sizes, k=kernels, p=paddings, s=strides, d=dilations, output_padding=st.integers(0, 4))
@example(n=4, k=3, p=0, s=2, d=1, output_padding=2)  # output_padding not below stride or dilation
@example(n=4, k=3, p=1, s=1, d=2, output_padding=1)  # ok: below the dilation
@example(n=1, k=1, p=3, s=1, d=1, output_padding=0)  # output size negative
@example(n=1, k=4, p=4, s=2, d=2, output_padding=1)  # output size 0
def test_transposed_conv_output_size_matches_convtranspose2d(n, k, p, s, d, output_padding):
    try:
        deconv = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=output_padding, dilation=d)
    except ValueError as exc:  # older torch checks output_padding at construction
        expected: int | str = str(exc)
    else:
        expected = torch_width(deconv, n)
    if isinstance(expected, str) or expected == 0:  # torch returns an empty tensor for 0; cnnlab rejects it
        parameter = "output_padding" if "output padding" in str(expected) else "padding"
        with pytest.raises(ConfigError, match=parameter):
            arith.transposed_conv_output_size(n, k, p=p, s=s, d=d, output_padding=output_padding)
    else:
        assert arith.transposed_conv_output_size(n, k, p=p, s=s, d=d, output_padding=output_padding) == expected


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize(
    ("parameter", "kwargs"),
    [
        ("kernel_size", dict(k=0)),
        ("stride", dict(k=3, s=0)),
        ("padding", dict(k=3, p=-1)),
        ("dilation", dict(k=3, d=0)),
    ],
)
def test_bad_values_rejected_like_torch(parameter, kwargs):
    torch_kwargs = dict(kernel_size=kwargs["k"], stride=kwargs.get("s", 1),
                        padding=kwargs.get("p", 0), dilation=kwargs.get("d", 1))
    assert isinstance(torch_width(nn.Conv2d(1, 1, **torch_kwargs), 8), str)  # torch rejects it too
    for size in (arith.conv_output_size, arith.transposed_conv_output_size):
        with pytest.raises(ConfigError, match=parameter):
            size(8, **kwargs)


@pytest.mark.parametrize("bad", [2.0, True, "3", None])
def test_non_integers_rejected(bad):
    with pytest.raises(ConfigError, match="kernel_size"):
        arith.conv_output_size(8, k=bad)
    with pytest.raises(ConfigError, match="dilation"):
        arith.effective_kernel(3, d=bad)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(n=sizes, k=kernels, d=dilations)
def test_same_padding_stride_1_matches_torch_same(n, k, d):
    torch.manual_seed(0)
    x = torch.randn(1, 1, n, n)
    conv = nn.Conv2d(1, 1, k, padding="same", dilation=d, bias=False)
    before, after = arith.same_padding(k, d=d)
    padded = nn.functional.pad(x, (before, after, before, after))
    with torch.no_grad():
        torch.testing.assert_close(nn.functional.conv2d(padded, conv.weight, dilation=d), conv(x))


@given(n=sizes, k=kernels, s=strides, d=dilations)
def test_same_padding_strided_gives_ceil_n_over_s(n, k, s, d):
    before, after = arith.same_padding(k, d=d, s=s, n=n)
    conv = nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False)
    padded = torch_width(nn.Sequential(nn.ZeroPad2d((before, after, before, after)), conv), n)
    assert padded == -(-n // s)
    assert abs(before - after) <= 1


def test_same_padding_strided_needs_n():
    with pytest.raises(ConfigError, match="input size"):
        arith.same_padding(3, s=2)
