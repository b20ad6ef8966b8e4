"""Deformable convolution on a GPU: forward and backward against ``torchvision.ops.deform_conv2d`` (its CUDA
kernels) in float32 and float16, and the module training on the device.

float32: cnnlab's fast path (sparse sampling matrix, embedding_bag, batched matmuls) on CUDA, equal to
torchvision within 1e-4 of the largest magnitude. float16: cnnlab runs its reference formulation; both
are compared with a float64 computation of the same (fp16-rounded) inputs, and cnnlab's error must stay
within a small multiple of torchvision's own fp16 error. Skipped where no CUDA device is present.
"""

from __future__ import annotations

import pytest
import torch

from cnnlab.units.deform import DeformConv2d, deform_conv2d

pytestmark = pytest.mark.cuda

tv_ops = pytest.importorskip("torchvision.ops")

# (n, in, out, hw, kernel, stride, padding, dilation, groups, offset_groups, modulated)
CASES = {
    "v2-3x3": (2, 8, 6, (9, 11), (3, 3), 1, 1, 1, 1, 1, True),
    "v1-strided-dilated": (3, 6, 4, (12, 10), (3, 2), 2, (2, 1), (2, 1), 1, 1, False),
    "v2-groups": (2, 8, 8, (8, 8), (3, 3), 1, 1, 1, 2, 4, True),
}
FP32_RTOL = 1e-4  # relative to the largest magnitude of the reference tensor
FP16_FLOOR = 1e-2  # fp16's unit roundoff is 4.9e-4; sums of ~100 rounded products, relative to the largest
FP16_FACTOR = 4.0  # cnnlab's fp16 error may be at most this many times torchvision's own


@pytest.fixture(autouse=True)
def _exact_matmuls(monkeypatch):
    """No TF32: both implementations' float32 products are then full float32."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


def _grid_offsets(offset: torch.Tensor) -> torch.Tensor:
    """Offsets at odd multiples of 1/64 within ±3.9 pixels: every sample position (a pixel index plus the
    offset, below 32 in magnitude here) is exact in float16 and never on a pixel edge, where bilinear
    sampling has a kink and the offset gradient a jump. The fp16 comparison then measures arithmetic,
    not where a rounded position happens to fall."""
    return ((torch.round(offset * 32 - 0.5) + 0.5) / 32).clamp(-3.9, 3.9)


def _inputs(case: str, dtype: torch.dtype, seed: int = 0) -> dict[str, torch.Tensor | None]:
    n, c, o, (h, w), (kh, kw), stride, padding, dilation, groups, offset_groups, modulated = CASES[case]
    s, p, d = (v if isinstance(v, tuple) else (v, v) for v in (stride, padding, dilation))
    ho, wo = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1, (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    gen = torch.Generator().manual_seed(seed)
    taps = kh * kw
    tensors = {
        "input": torch.randn(n, c, h, w, generator=gen),
        "offset": _grid_offsets(2.0 * torch.randn(n, 2 * offset_groups * taps, ho, wo, generator=gen)),
        "weight": torch.randn(o, c // groups, kh, kw, generator=gen),
        "bias": torch.randn(o, generator=gen),
        "mask": torch.rand(n, offset_groups * taps, ho, wo, generator=gen) if modulated else None,
    }
    return {k: None if t is None else t.to("cuda", dtype) for k, t in tensors.items()}


def _run(fn, tensors: dict, case: str, upstream_seed: int = 1):
    """Output and gradients of every input tensor, under one fixed upstream gradient."""
    *_, stride, padding, dilation, _g, _og, _m = CASES[case]
    leaves = {k: t.detach().clone().requires_grad_() for k, t in tensors.items() if t is not None}
    out = fn(leaves["input"], leaves["offset"], leaves["weight"], leaves["bias"], stride=stride, padding=padding,
             dilation=dilation, mask=leaves.get("mask"))
    gen = torch.Generator().manual_seed(upstream_seed)
    upstream = torch.randn(out.shape, generator=gen).to(out.device, out.dtype)
    grads = torch.autograd.grad(out, list(leaves.values()), upstream)
    return {"output": out.detach(), **{f"grad {k}": g for k, g in zip(leaves, grads, strict=True)}}


def _error(got: torch.Tensor, want: torch.Tensor) -> tuple[float, float]:
    """(max |diff|, largest |want|), in float64."""
    return (got.double() - want.double()).abs().max().item(), want.double().abs().max().item()


@pytest.mark.parametrize("case", list(CASES))
def test_float32_forward_and_backward_match_torchvision(case):
    tensors = _inputs(case, torch.float32)
    ours, theirs = _run(deform_conv2d, tensors, case), _run(tv_ops.deform_conv2d, tensors, case)
    assert ours["output"].is_cuda and ours["output"].dtype == torch.float32
    for name, want in theirs.items():
        err, scale = _error(ours[name], want)
        assert err <= FP32_RTOL * scale, f"{case} {name}: max error {err:.3g} vs largest magnitude {scale:.3g}"


@pytest.mark.parametrize("case", list(CASES))
def test_float16_forward_and_backward_as_accurate_as_torchvision(case):
    tensors = _inputs(case, torch.float16)
    exact = _run(tv_ops.deform_conv2d, {k: None if t is None else t.double() for k, t in tensors.items()}, case)
    ours, theirs = _run(deform_conv2d, tensors, case), _run(tv_ops.deform_conv2d, tensors, case)
    assert ours["output"].dtype == torch.float16
    for name, want in exact.items():
        err_ours, scale = _error(ours[name], want)
        err_theirs, _ = _error(theirs[name], want)
        bound = max(FP16_FACTOR * err_theirs, FP16_FLOOR * scale)
        assert torch.isfinite(ours[name]).all(), f"{case} {name}: not finite"
        assert err_ours <= bound, (f"{case} {name}: cnnlab fp16 error {err_ours:.3g}, torchvision's "
                                   f"{err_theirs:.3g}, largest magnitude {scale:.3g}")


def test_module_trains_on_cuda():
    torch.manual_seed(0)
    layer = DeformConv2d(4, 6, 3, padding=1, modulated=True).cuda()
    with torch.no_grad():  # non-zero offset / mask predictors, so every branch carries gradient
        for conv in (layer.offset_conv, layer.mask_conv):
            conv.weight.normal_(0, 0.1)
    x = torch.randn(2, 4, 10, 10, device="cuda")
    out = layer(x)
    out.square().mean().backward()
    assert out.shape == (2, 6, 10, 10) and out.is_cuda
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.is_cuda and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient"
    # the same forward by torchvision from the module's own offsets and mask
    with torch.no_grad():
        offset, mask = layer.offset_conv(x), torch.sigmoid(layer.mask_conv(x))
        want = tv_ops.deform_conv2d(x, offset, layer.weight, layer.bias, padding=1, mask=mask)
    err, scale = _error(out.detach(), want)
    assert err <= FP32_RTOL * scale
