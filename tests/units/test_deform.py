"""Deformable convolution against torchvision.ops.deform_conv2d, nn.Conv2d and the slow reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnnlab.errors import ConfigError
from cnnlab.units.deform import DeformConv2d, deform_conv2d
from cnnlab.units.deform_reference import deform_conv2d_reference

RTOL = 1e-4  # relative to the largest magnitude of the reference tensor


def _close(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    scale = want.abs().max().item()
    err = (got - want).abs().max().item()
    assert err <= RTOL * scale + 1e-12, f"{what}: max error {err:.3g} vs largest magnitude {scale:.3g}"


def _out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _case(n, c, o, hw, k, stride=1, padding=0, dilation=1, groups=1, offset_groups=1,
          modulated=True, offset_scale=2.0, dtype=torch.float32):
    """Random inputs of one configuration, all requiring grad (mask None for v1)."""
    (h, w), (kh, kw) = hw, k
    (sh, sw), (ph, pw), (dh, dw) = (v if isinstance(v, tuple) else (v, v) for v in (stride, padding, dilation))
    ho, wo = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    taps = kh * kw
    x = torch.randn(n, c, h, w, dtype=dtype)
    offset = torch.randn(n, 2 * offset_groups * taps, ho, wo, dtype=dtype) * offset_scale
    mask = torch.rand(n, offset_groups * taps, ho, wo, dtype=dtype) if modulated else None
    weight = torch.randn(o, c // groups, kh, kw, dtype=dtype)
    bias = torch.randn(o, dtype=dtype)
    tensors = [t.requires_grad_() for t in (x, offset, mask, weight, bias) if t is not None]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    return x, offset, mask, weight, bias, tensors, kwargs


def _forward_and_grads(fn, x, offset, mask, weight, bias, tensors, kwargs, **extra):
    out = fn(x, offset, weight, bias, mask=mask, **kwargs, **extra)
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    return out, torch.autograd.grad(out, tensors, upstream)


def _assert_same(fn_a, fn_b, case, names=("input", "offset", "mask", "weight", "bias"), **extra):
    x, offset, mask, *_ = case
    out_a, grads_a = _forward_and_grads(fn_a, *case, **extra)
    out_b, grads_b = _forward_and_grads(fn_b, *case)
    _close(out_a, out_b, "output")
    names = [nm for nm in names if nm != "mask" or mask is not None]
    for name, ga, gb in zip(names, grads_a, grads_b, strict=True):
        _close(ga, gb, f"grad {name}")


CONFIGS = {
    "plain": dict(n=2, c=4, o=5, hw=(7, 6), k=(3, 3), padding=1, modulated=False),
    "modulated": dict(n=2, c=4, o=6, hw=(7, 6), k=(3, 3), padding=1),
    "groups": dict(n=2, c=6, o=4, hw=(8, 7), k=(3, 2), stride=2, padding=1, dilation=2, groups=2, offset_groups=3),
    "offset_groups": dict(n=1, c=8, o=4, hw=(9, 9), k=(3, 3), padding=2, groups=4, offset_groups=2),
    "no_padding": dict(n=3, c=12, o=6, hw=(6, 5), k=(2, 3), groups=3, offset_groups=4, modulated=False),
    "far_outside": dict(n=2, c=4, o=3, hw=(5, 5), k=(3, 3), padding=1, offset_scale=6.0),
    "stride_dilation": dict(n=2, c=3, o=2, hw=(10, 9), k=(3, 3), stride=(2, 3), padding=(2, 1), dilation=(1, 2)),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_matches_torchvision(name):
    tv_ops = pytest.importorskip("torchvision.ops")
    _assert_same(deform_conv2d, tv_ops.deform_conv2d, _case(**CONFIGS[name]))


@pytest.mark.parametrize("name", ["modulated", "groups", "far_outside"])
def test_reference_matches_torchvision(name):
    tv_ops = pytest.importorskip("torchvision.ops")
    _assert_same(deform_conv2d_reference, tv_ops.deform_conv2d, _case(**CONFIGS[name]))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_matches_reference_float64(name):
    _assert_same(deform_conv2d, deform_conv2d_reference, _case(**CONFIGS[name], dtype=torch.float64))


def test_chunked_equals_unchunked():
    case = _case(n=5, c=4, o=4, hw=(6, 7), k=(3, 3), padding=1, groups=2, offset_groups=2)
    # A 1-byte budget forces one image per chunk and rebuilt plans in the backward.
    _assert_same(lambda *a, **kw: deform_conv2d(*a, **kw, max_column_bytes=1), deform_conv2d, case)


@pytest.mark.parametrize("use_mask", [False, True])
def test_zero_offsets_equal_conv2d(use_mask):
    x = torch.randn(2, 6, 9, 8)
    weight, bias = torch.randn(4, 3, 3, 3), torch.randn(4)
    conv = dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1))
    ho, wo = _out_size(9, 3, 2, 1, 2), _out_size(8, 3, 1, 2, 1)
    offset = torch.zeros(2, 2 * 9, ho, wo)
    mask = torch.ones(2, 9, ho, wo) if use_mask else None
    got = deform_conv2d(x, offset, weight, bias, mask=mask, **conv)
    _close(got, F.conv2d(x, weight, bias, groups=2, **conv), "output")


def test_v1_module_at_init_is_a_plain_conv():
    torch.manual_seed(0)
    layer = DeformConv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2, offset_groups=2)
    x = torch.randn(2, 4, 9, 9)
    want = F.conv2d(x, layer.weight, layer.bias, stride=2, padding=1, groups=2)
    _close(layer(x), want, "output")


def test_v2_module_at_init_is_half_a_plain_conv_plus_bias():
    torch.manual_seed(0)
    layer = DeformConv2d(4, 5, (3, 2), padding=(1, 0), modulated=True)
    x = torch.randn(2, 4, 7, 6)
    want = 0.5 * F.conv2d(x, layer.weight, None, padding=(1, 0)) + layer.bias.view(1, -1, 1, 1)
    _close(layer(x), want, "output")


def test_module_gradients_reach_the_offset_predictor():
    torch.manual_seed(0)
    layer = DeformConv2d(3, 4, 3, padding=1, modulated=True)
    layer(torch.randn(1, 3, 6, 6)).square().sum().backward()
    assert layer.offset_conv.weight.grad.abs().sum() > 0
    assert layer.mask_conv.weight.grad.abs().sum() > 0


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 5, 4, dtype=torch.float64, generator=g)
    # Offsets with fractional parts near 1/2: every sample stays inside one pixel cell under the
    # finite-difference step (the bilinear map is not differentiable across cell borders).
    offset = (torch.randint(-2, 3, (1, 2 * 2 * 4, 6, 2), generator=g) + 0.5
              + 0.2 * torch.rand(1, 16, 6, 2, generator=g, dtype=torch.float64) - 0.1).to(torch.float64)
    mask = torch.rand(1, 2 * 4, 6, 2, dtype=torch.float64, generator=g)
    weight = torch.randn(4, 2, 2, 2, dtype=torch.float64, generator=g)
    bias = torch.randn(4, dtype=torch.float64, generator=g)
    inputs = tuple(t.requires_grad_() for t in (x, offset, weight, bias, mask))

    def fn(x, offset, weight, bias, mask):
        return deform_conv2d(x, offset, weight, bias, padding=(1, 0), dilation=(1, 2), mask=mask)

    assert torch.autograd.gradcheck(fn, inputs)


def test_empty_batch():
    out = deform_conv2d(torch.randn(0, 2, 5, 5), torch.randn(0, 18, 5, 5), torch.randn(3, 2, 3, 3), padding=1)
    assert out.shape == (0, 3, 5, 5)


def test_other_dtypes_use_the_reference():
    case = _case(n=1, c=2, o=2, hw=(5, 5), k=(3, 3), padding=1)
    x, offset, mask, weight, bias = (t.detach() for t in case[:5])
    got = deform_conv2d(x.bfloat16(), offset.bfloat16(), weight.bfloat16(), bias.bfloat16(), padding=1,
                        mask=mask.bfloat16())
    want = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    assert got.dtype == torch.bfloat16
    assert (got.float() - want).abs().max() <= 0.05 * want.abs().max()


@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    offset_groups=st.sampled_from([1, 2, 4]),
    channels_per_block=st.integers(1, 2),
    out_per_group=st.integers(1, 3),
    h=st.integers(3, 7),
    w=st.integers(3, 7),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    modulated=st.booleans(),
    offset_scale=st.sampled_from([0.5, 2.0, 5.0]),
)
def test_random_configs_match_torchvision(n, groups, offset_groups, channels_per_block, out_per_group,
                                          h, w, kh, kw, stride, padding, dilation, modulated, offset_scale):
    tv_ops = pytest.importorskip("torchvision.ops")
    blocks = groups * offset_groups // __import__("math").gcd(groups, offset_groups)
    if h + 2 * padding < dilation * (kh - 1) + 1 or w + 2 * padding < dilation * (kw - 1) + 1:
        return  # no output pixel (the ConfigError tests cover this)
    case = _case(n=n, c=blocks * channels_per_block, o=groups * out_per_group, hw=(h, w), k=(kh, kw),
                 stride=stride, padding=padding, dilation=dilation, groups=groups,
                 offset_groups=offset_groups, modulated=modulated, offset_scale=offset_scale)
    _assert_same(deform_conv2d, tv_ops.deform_conv2d, case)


# ------------------------------------------------------------------------------------------
# Bad hyper-parameters: ConfigError naming the value, before torch is involved.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(in_channels=6, out_channels=4, kernel_size=3, groups=4), "groups"),
        (dict(in_channels=6, out_channels=5, kernel_size=3, groups=2), "out_channels"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, offset_groups=4), "offset_groups"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, offset_groups=0), "offset_groups"),
        (dict(in_channels=6, out_channels=4, kernel_size=0), "kernel_size"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, stride=0), "stride"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, dilation=-1), "dilation"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, padding=-1), "padding"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, modulated=1), "modulated"),
        (dict(in_channels=6, out_channels=4, kernel_size=3, max_column_bytes=0), "max_column_bytes"),
    ],
)
def test_module_rejects_bad_hyper_parameters(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        DeformConv2d(**kwargs)


def test_module_rejects_wrong_input():
    layer = DeformConv2d(4, 4, 3)
    with pytest.raises(ConfigError, match="input"):
        layer(torch.randn(1, 3, 8, 8))
    with pytest.raises(ConfigError, match="too small"):
        layer(torch.randn(1, 4, 2, 2))


def _good():
    return dict(input=torch.randn(2, 4, 6, 6), offset=torch.randn(2, 2 * 2 * 9, 6, 6),
                weight=torch.randn(3, 4, 3, 3), bias=torch.randn(3), mask=torch.rand(2, 2 * 9, 6, 6),
                padding=1)


@pytest.mark.parametrize(
    "change, needle",
    [
        (dict(offset=torch.randn(2, 17, 6, 6)), "offset has 17 channels"),
        (dict(offset=torch.randn(2, 18 * 3, 6, 6)), "offset_groups=3"),
        (dict(offset=torch.randn(2, 36, 5, 6)), r"offset must have shape \(2, 36, 6, 6\), got \(2, 36, 5, 6\)"),
        (dict(offset=torch.randn(1, 36, 6, 6)), "offset must have shape"),
        (dict(mask=torch.rand(2, 9, 6, 6)), r"mask must have shape \(2, 18, 6, 6\)"),
        (dict(mask=torch.rand(2, 18, 6, 7)), "mask must have shape"),
        (dict(bias=torch.randn(4)), "bias"),
        (dict(weight=torch.randn(3, 3, 3, 3)), "weight.shape"),
        (dict(weight=torch.randn(3, 2, 3, 3)), "out_channels"),
        (dict(weight=torch.randn(3, 4, 3, 3, 1)), "weight must be 4-D"),
        (dict(input=torch.randn(4, 6, 6)), "input must be 4-D"),
        (dict(padding=-1), "padding"),
        (dict(stride=0), "stride"),
        (dict(dilation=0), "dilation"),
        (dict(offset=torch.randn(2, 36, 6, 6, dtype=torch.float64)), "offset is torch.float64"),
        (dict(padding=0, offset=torch.randn(2, 36, 4, 4), mask=torch.rand(2, 18, 4, 4),
              input=torch.randn(2, 4, 2, 2)), "too small"),
    ],
)
def test_function_rejects_bad_arguments(change, needle):
    args = {**_good(), **change}
    with pytest.raises(ConfigError, match=needle):
        deform_conv2d(args.pop("input"), args.pop("offset"), args.pop("weight"), **args)


@pytest.mark.parametrize("offset_groups", [1, 2])
def test_integer_offsets_match_torchvision(offset_groups):
    """Samples exactly on pixels (zero offsets at initialisation, integer shifts): the offset gradient
    takes the cell whose top-left corner is the pixel, as torchvision's floor does."""
    tv_ops = pytest.importorskip("torchvision.ops")
    case = _case(n=2, c=4, o=3, hw=(6, 7), k=(3, 3), padding=1, offset_groups=offset_groups)
    x, offset, mask, weight, bias, _, kwargs = case
    integer = torch.randint(-3, 4, offset.shape, generator=torch.Generator().manual_seed(2)).to(offset.dtype)
    integer[0] = 0
    offset = integer.requires_grad_()
    tensors = [x, offset, mask, weight, bias]
    _assert_same(deform_conv2d, tv_ops.deform_conv2d, (x, offset, mask, weight, bias, tensors, kwargs))
