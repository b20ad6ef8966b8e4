"""A slow, plainly written deformable convolution: the reference the fast one is tested against.

Dai et al. 2017, Eq. 2-4 (v1) and Zhu et al. 2019, Eq. 3 (v2) read off literally: every sample
``p0 + pn + Δpn`` gathers its four neighbouring pixels from the zero-padded input, weights them
bilinearly, is scaled by its mask, and the kernel is applied by one einsum. Only differentiable
torch ops are used, so autograd supplies every gradient (second order included). Arguments and
layout are those of ``torchvision.ops.deform_conv2d``; they are assumed valid (the checked entry
point is :func:`cnnlab.units.deform.deform_conv2d`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnlab.arith.checks import pair

__all__ = ["deform_conv2d_reference"]


def deform_conv2d_reference(
    x: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Deformable convolution by gather + einsum; same semantics as torchvision's."""
    n, channels, height, width = x.shape
    out_channels, group_channels, kh, kw = weight.shape
    groups, taps = channels // group_channels, kh * kw
    offset_groups = offset.shape[1] // (2 * taps)
    (sh, sw), (ph, pw), (dh, dw) = pair("stride", stride), pair("padding", padding), pair("dilation", dilation)
    ho, wo = offset.shape[-2:]
    dev = x.device

    # p0 + pn for each tap and output pixel, then + Δpn: shape (n, offset group, K, Ho, Wo).
    tap_y = (torch.arange(kh, device=dev) * dh).repeat_interleave(kw).view(taps, 1, 1)
    tap_x = (torch.arange(kw, device=dev) * dw).repeat(kh).view(taps, 1, 1)
    p0_y = (torch.arange(ho, device=dev) * sh - ph).view(1, ho, 1)
    p0_x = (torch.arange(wo, device=dev) * sw - pw).view(1, 1, wo)
    off = offset.reshape(n, offset_groups, taps, 2, ho, wo)
    y = off[:, :, :, 0] + (tap_y + p0_y).to(x.dtype)
    xs = off[:, :, :, 1] + (tap_x + p0_x).to(x.dtype)
    inside = (y >= -1) & (y < height) & (xs >= -1) & (xs < width)
    y_low = torch.where(inside, y.floor(), -1).detach()
    x_low = torch.where(inside, xs.floor(), -1).detach()
    frac_y, frac_x = y - y_low, xs - x_low

    # Gather corners from the input padded by one zero pixel: every corner index is in range.
    padded = F.pad(x, (1, 1, 1, 1)).reshape(n, offset_groups, channels // offset_groups, -1)
    spread = (n, offset_groups, channels // offset_groups, taps * ho * wo)

    def corner(dy: int, dx: int) -> torch.Tensor:
        flat = (y_low + 1 + dy) * (width + 2) + (x_low + 1 + dx)
        index = flat.long().reshape(n, offset_groups, 1, -1).expand(spread)
        return padded.gather(3, index)

    def spread_weight(w: torch.Tensor) -> torch.Tensor:
        return w.reshape(n, offset_groups, 1, -1)

    samples = (
        spread_weight((1 - frac_y) * (1 - frac_x)) * corner(0, 0)
        + spread_weight((1 - frac_y) * frac_x) * corner(0, 1)
        + spread_weight(frac_y * (1 - frac_x)) * corner(1, 0)
        + spread_weight(frac_y * frac_x) * corner(1, 1)
    )
    samples = torch.where(spread_weight(inside), samples, 0)
    if mask is not None:
        samples = samples * mask.reshape(n, offset_groups, 1, -1)

    cols = samples.reshape(n, groups, group_channels * taps, ho * wo)
    kernel = weight.reshape(groups, out_channels // groups, group_channels * taps)
    out = torch.einsum("goi,ngil->ngol", kernel, cols).reshape(n, out_channels, ho, wo)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
