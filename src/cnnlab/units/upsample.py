"""Upsampling: fixed (nearest, bilinear) and learnable (transposed convolution).

Fixed upsampling wraps ``nn.Upsample`` / ``F.interpolate`` with ``align_corners`` explicit: with the
default ``False``, output pixel ``o`` samples input coordinate ``(o + 1/2) / scale - 1/2`` (pixel
centres line up), which turns ``[[1, 2], [3, 4]]`` into the 4x4 bilinear map of the lecture.

Learnable upsampling is a transposed convolution (FCN, Long et al. 2015, Sec. 3.3): kernel
``2f - f % 2``, stride ``f``, padding ``f // 2`` map ``n`` pixels to exactly ``f * n``; with
``init="bilinear"`` it starts as bilinear interpolation (FCN's ``upsample_filt``) and can learn from there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.arith.checks import pair, require_choice, require_divisible, require_positive, require_range
from cnnlab.errors import ConfigError

__all__ = ["UPSAMPLE_MODES", "upsample", "Upsample", "bilinear_kernel", "LearnedUpsample"]

UPSAMPLE_MODES = ("nearest", "bilinear")
LEARNED_INITS = ("bilinear", "default")


def _check_upsample(
    scale_factor: object, size: object, mode: object, align_corners: object, where: str
) -> bool | None:
    """Validate; return the ``align_corners`` value torch expects (None for nearest)."""
    require_choice("mode", mode, UPSAMPLE_MODES, where)
    if (scale_factor is None) == (size is None):
        raise ConfigError(f"{where}: give exactly one of scale_factor and size, got {scale_factor!r} and {size!r}")
    if size is not None:
        for v in pair("size", size, where):
            require_positive("size", v, where)
    else:
        factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,)
        for f in factors:
            require_range("scale_factor", f, 0.0, None, where, low_open=True)
    if not isinstance(align_corners, bool):
        raise ConfigError(f"{where}: align_corners must be True or False, got {align_corners!r}")
    if mode == "nearest":
        if align_corners:
            raise ConfigError(f"{where}: align_corners=True has no meaning for mode='nearest'")
        return None
    return align_corners


def upsample(
    x: torch.Tensor,
    scale_factor: float | tuple[float, float] | None = None,
    size: int | tuple[int, int] | None = None,
    mode: str = "nearest",
    align_corners: bool = False,
) -> torch.Tensor:
    """``F.interpolate`` restricted to nearest / bilinear, validated, ``align_corners`` explicit."""
    torch_align = _check_upsample(scale_factor, size, mode, align_corners, f"upsample(mode={mode!r})")
    return F.interpolate(x, size=size, scale_factor=scale_factor, mode=mode, align_corners=torch_align)


class Upsample(nn.Upsample):
    """``nn.Upsample`` for nearest / bilinear with validated arguments and ``align_corners=False`` default."""

    def __init__(
        self,
        scale_factor: float | tuple[float, float] | None = None,
        size: int | tuple[int, int] | None = None,
        mode: str = "nearest",
        align_corners: bool = False,
    ) -> None:
        torch_align = _check_upsample(scale_factor, size, mode, align_corners, f"Upsample(mode={mode!r})")
        super().__init__(size=size, scale_factor=scale_factor, mode=mode, align_corners=torch_align)


def bilinear_kernel(kernel_size: int) -> torch.Tensor:
    """The ``k x k`` bilinear interpolation kernel of FCN (``upsample_filt``, Long et al. 2015).

    1-D taps ``1 - |t - c| / f`` for ``t = 0..k-1``, with ``f = ceil(k / 2)`` and centre
    ``c = f - 1`` (odd ``k``) or ``f - 1/2`` (even ``k``); the 2-D kernel is the outer product.
    """
    k = require_positive("kernel_size", kernel_size, "bilinear_kernel")
    factor = (k + 1) // 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(k, dtype=torch.float64) - centre).abs() / factor
    return torch.outer(taps, taps).to(torch.get_default_dtype())


class LearnedUpsample(nn.ConvTranspose2d):
    """Learnable ``factor``-times upsampling: ``ConvTranspose2d(k=2f - f % 2, stride=f, padding=f // 2)``.

    Output size is exactly ``factor * n``. ``init="bilinear"`` (needs ``out_channels == in_channels``)
    sets each channel's kernel to :func:`bilinear_kernel` and the others to zero, so in the interior it
    equals ``F.interpolate(mode="bilinear", align_corners=False)``; at the border it differs (zero padding
    instead of edge clamping). ``init="default"`` keeps torch's initialisation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        factor: int = 2,
        init: str = "bilinear",
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        out_channels = in_channels if out_channels is None else out_channels
        where = f"LearnedUpsample({in_channels}->{out_channels}, factor={factor})"
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("factor", factor), ("groups", groups)):
            require_positive(name, value, where)
        require_divisible("in_channels", in_channels, "groups", groups, where)
        require_divisible("out_channels", out_channels, "groups", groups, where)
        require_choice("init", init, LEARNED_INITS, where)
        if init == "bilinear" and in_channels != out_channels:
            raise ConfigError(f"{where}: init='bilinear' needs out_channels == in_channels")
        kernel_size = 2 * factor - factor % 2
        super().__init__(in_channels, out_channels, kernel_size, stride=factor, padding=factor // 2,
                         groups=groups, bias=bias)
        self.factor = factor
        if init == "bilinear":
            self.reset_bilinear()

    @torch.no_grad()
    def reset_bilinear(self) -> None:
        """Channel ``c`` → channel ``c`` with the bilinear kernel; every other weight (and bias) zero."""
        self.weight.zero_()
        per_group_out = self.out_channels // self.groups
        kernel = bilinear_kernel(self.kernel_size[0]).to(self.weight)
        for c in range(self.in_channels):
            self.weight[c, c % per_group_out] = kernel  # weight layout: (in, out / groups, kh, kw)
        if self.bias is not None:
            self.bias.zero_()
