"""Spatial geometry shared by the module, function and aten rules: output shapes and field samplings.

Every formula is :mod:`cnnlab.arith`'s (``conv_output_size``, ``pool_output_size``,
``transposed_conv_output_size``; the samplings of :mod:`cnnlab.arith.sampling`); this module only reads a
call's arguments into them, one tuple entry per spatial axis (height, width for 2-D maps).
"""

from __future__ import annotations

from torch import Tensor

from cnnlab.analysis.rules.base import END
from cnnlab.arith.sampling import (
    Adaptive,
    Interpolate,
    Pad,
    PixelShuffle,
    Sampling,
    Window,
    interpolation_scale,
)
from cnnlab.arith.sizes import conv_output_size, pool_output_size, transposed_conv_output_size
from cnnlab.errors import ConfigError

__all__ = [
    "per_axis", "conv_padding", "window_shape", "window_field", "transposed_shape",
    "pad_field", "interpolate_field", "interpolate_factors", "adaptive_field", "pixel_shuffle_field", "pixel_unshuffle_field",
]

_PAD_MODES = {"zeros": "constant", "constant": "constant", "reflect": "reflect", "replicate": "replicate",
              "circular": "circular"}


def per_axis(value: object, n: int) -> tuple[int, ...]:
    """A module's ``kernel_size`` / ``stride`` / ... for ``n`` spatial axes: an int for all, or one per axis."""
    if isinstance(value, (tuple, list)):
        if len(value) == 0:
            return (1,) * n
        if len(value) == 1:
            return (int(value[0]),) * n
        return tuple(int(v) for v in value[-n:])
    return (int(value),) * n


def conv_padding(padding: object, k: tuple[int, ...], d: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(before, after) per axis; ``'same'`` puts the odd pixel after (torch's ``_convolution_mode``)."""
    if padding == "valid":
        return tuple((0, 0) for _ in k)
    if padding == "same":
        totals = [di * (ki - 1) for ki, di in zip(k, d, strict=True)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in per_axis(padding, len(k)))


def window_shape(x: Tensor, channels: int, k: tuple[int, ...], s: tuple[int, ...],
                 pads: tuple[tuple[int, int], ...], d: tuple[int, ...], pool: bool = False,
                 ceil_mode: bool = False) -> tuple[int, ...] | None:
    """Output shape of a conv or pooling window; None when the padding is asymmetric (then run the op)."""
    n = len(k)
    if x.dim() < n + 1 or any(a != b for a, b in pads):
        return None
    sizes = []
    for size, ki, si, (p, _), di in zip(x.shape[-n:], k, s, pads, d, strict=True):
        try:
            if pool:
                sizes.append(pool_output_size(int(size), ki, si, p, di, ceil_mode))
            else:
                sizes.append(conv_output_size(int(size), ki, p, si, di))
        except ConfigError:
            return None  # let torch raise its own error on the real call, reported with the layer's name
    lead = tuple(x.shape[:-n - 1])
    return (*lead, channels, *sizes)


def window_field(k: tuple[int, ...], s: tuple[int, ...], pads: tuple[tuple[int, int], ...],
                 d: tuple[int, ...], mode: str = "zeros") -> tuple[Sampling, ...]:
    """One :class:`Window` per axis; ``mode`` is how a window reads outside the input (conv's padding_mode)."""
    return tuple(Window(ki, si, p, di, _PAD_MODES.get(mode, "constant"))
                 for ki, si, (p, _), di in zip(k, s, pads, d, strict=True))


def transposed_shape(x: Tensor, channels: int, k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...],
                     d: tuple[int, ...], output_padding: tuple[int, ...]) -> tuple[int, ...] | None:
    n = len(k)
    if x.dim() < n + 1:
        return None
    try:
        sizes = [transposed_conv_output_size(int(size), ki, pi, si, di, op)
                 for size, ki, si, pi, di, op in zip(x.shape[-n:], k, s, p, d, output_padding, strict=True)]
    except ConfigError:
        return None
    return (*x.shape[:-n - 1], channels, *sizes)


def pad_field(pads: object, mode: str, n_axes: int) -> tuple[Sampling | None, ...] | None:
    """``F.pad`` amounts (last axis first: ``(left, right, top, bottom, ...)``) as one Pad per spatial axis."""
    if not isinstance(pads, (tuple, list)) or len(pads) % 2 or not all(isinstance(v, int) for v in pads):
        return None
    befores = [int(v) for v in pads[0::2]]  # last axis first
    per = [None] * n_axes
    for i, before in enumerate(befores):
        axis = n_axes - 1 - i
        if axis < 0:
            return None  # pads a non-spatial axis: no field rule for that
        after = int(pads[2 * i + 1])
        per[axis] = Pad(before, _PAD_MODES.get(mode, "constant"), after) if before or after else None
    return tuple(per)


def interpolate_field(x: Tensor, out: Tensor, mode: str, scale_factors: tuple[float | None, ...] | None,
                      align_corners: object) -> object:
    """Interpolation per axis with the scale torch uses (``interpolation_scale``): ``scale_factors`` are the
    factors passed to the kernel, one per axis (None: the sizes decide)."""
    n = out.dim() - 2
    if n < 1 or x.dim() != out.dim():
        return None
    if mode == "area":
        return adaptive_field(x, out)
    factors = scale_factors if scale_factors is not None else (None,) * n
    align = bool(align_corners) if mode in ("linear", "bilinear", "trilinear", "bicubic") else False
    return tuple(
        Interpolate(mode, interpolation_scale(int(a), int(b), f, align), align)
        for a, b, f in zip(x.shape[2:], out.shape[2:], factors, strict=True)
    )


def interpolate_factors(scale_factor: object, recompute_scale_factor: object, n: int) -> tuple[float, ...] | None:
    """The factors ``F.interpolate`` passes on: ``scale_factor`` per axis unless it is recomputed from the sizes."""
    if scale_factor is None or recompute_scale_factor:
        return None
    if isinstance(scale_factor, (tuple, list)):
        return tuple(float(v) for v in scale_factor[-n:]) if len(scale_factor) > 1 else (float(scale_factor[0]),) * n
    return (float(scale_factor),) * n


def adaptive_field(x: Tensor, out: Tensor) -> object:
    """Adaptive pooling per axis; pooling a map with extent to 1x1 ends the field (global pooling)."""
    n = min(out.dim(), x.dim())
    n = max(1, n - 2) if out.dim() >= 3 else 1
    sizes_in, sizes_out = tuple(int(v) for v in x.shape[-n:]), tuple(int(v) for v in out.shape[-n:])
    if all(o == 1 for o in sizes_out) and any(i > 1 for i in sizes_in):
        return END
    return tuple(Adaptive(a, b) for a, b in zip(sizes_in, sizes_out, strict=True))


def pixel_shuffle_field(r: int) -> tuple[Sampling, ...]:
    return (PixelShuffle(r), PixelShuffle(r))


def pixel_unshuffle_field(r: int) -> tuple[Sampling, ...]:
    return (Window(r, r), Window(r, r))
