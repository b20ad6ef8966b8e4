"""Turn a batch of uint8 images into the float tensor a network eats, on whatever device it is on.

Steps, in order: to float on 0..1; pad (black border) or resize to ``image_size``; normalise with the dataset's
mean/std; repeat a grey channel to ``in_chans`` (3 for the ImageNet-style zoo nets). Doing this per
batch keeps the stored dataset at one byte per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnnlab.arith.checks import pair
from cnnlab.errors import ConfigError

__all__ = ["BatchTransform", "MAX_IMAGE_SIDE", "image_size_pair", "resolve_resize"]

# Largest image side the loaders produce: 4096 px is 18x ImageNet's 224 and 4x the 1024 px of the
# largest benchmark inputs (benchmarks/analysis.py); one such image is 64 MiB per channel in float32.
MAX_IMAGE_SIDE = 4096

# Pad (keep the pixels) when the image already covers at least this fraction of the target side,
# e.g. Fashion-MNIST 28 -> 32 is padded by 2 on each side; digits 8 -> 32 is interpolated.
_PAD_MIN_FRACTION = 0.75


def image_size_pair(value: object, where: str = "image_size") -> tuple[int, int]:
    """``value`` (an int or (H, W)) as an (H, W) pair of sides in ``[1, MAX_IMAGE_SIDE]``."""
    height, width = pair("image_size", value, where)
    for side in (height, width):
        if not 1 <= side <= MAX_IMAGE_SIDE:
            raise ConfigError(f"{where}: image_size must be between 1 and {MAX_IMAGE_SIDE} pixels per side, "
                              f"got {value!r}")
    return height, width


def resolve_resize(source: tuple[int, int], target: tuple[int, int] | None, mode: str) -> str:
    """Which of "none" | "pad" | "interpolate" turns ``source`` into ``target``."""
    if target is None or tuple(target) == tuple(source):
        return "none"
    if mode not in ("auto", "pad", "interpolate"):
        raise ConfigError(f"resize must be 'auto', 'pad' or 'interpolate', got {mode!r}")
    can_pad = all(t >= s for s, t in zip(source, target, strict=True))
    if mode == "pad" and not can_pad:
        raise ConfigError(f"resize='pad' cannot shrink images of size {source} to {target}")
    if mode == "auto":
        close = all(s >= _PAD_MIN_FRACTION * t for s, t in zip(source, target, strict=True))
        return "pad" if can_pad and close else "interpolate"
    return mode


@dataclass(frozen=True)
class BatchTransform:
    """uint8 (B, C, H, W) -> normalised float (B, in_chans, *image_size)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    source_size: tuple[int, int]
    image_size: tuple[int, int]
    source_chans: int
    in_chans: int
    resize: str = "none"  # "none" | "pad" | "interpolate"

    def __post_init__(self) -> None:
        if self.in_chans != self.source_chans and self.source_chans != 1:
            raise ConfigError(
                f"in_chans={self.in_chans} but the dataset has {self.source_chans} channels; only a "
                "1-channel dataset can be repeated to more channels"
            )

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(torch.float32).div_(255.0)
        if self.resize == "interpolate":
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False, antialias=True)
        elif self.resize == "pad":  # black (0) border, centred
            (sh, sw), (th, tw) = self.source_size, self.image_size
            top, left = (th - sh) // 2, (tw - sw) // 2
            x = F.pad(x, (left, tw - sw - left, top, th - sh - top))
        return self.normalise(x)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels, or floats on 0..1 (modified in place), at any size -> normalised float with
        ``in_chans`` channels: the last steps of ``__call__``."""
        if x.dtype == torch.uint8:
            x = x.to(torch.float32).div_(255.0)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        x = x.sub_(mean).div_(std)
        if self.in_chans != x.shape[1]:
            x = x.expand(-1, self.in_chans, -1, -1).contiguous()
        return x

    def place(self, images: torch.Tensor) -> torch.Tensor:
        """The geometric step alone: pad uint8 images to ``image_size`` (staying uint8), or interpolate
        them (as floats on 0..1); ``normalise`` of the result equals ``__call__`` of ``images``."""
        if self.resize == "interpolate":
            x = images.to(torch.float32).div_(255.0)
            return F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False, antialias=True)
        if self.resize == "pad":
            (sh, sw), (th, tw) = self.source_size, self.image_size
            top, left = (th - sh) // 2, (tw - sw) // 2
            return F.pad(images, (left, tw - sw - left, top, th - sh - top))
        return images
