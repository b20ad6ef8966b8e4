"""The in-memory uint8 training path: whole batches augmented as tensors, no per-image work.

The dataset already lives in memory as one uint8 tensor (``TensorLoader``); this module augments its
batches before they become floats: pad to the loader's size (uint8), random crop after zero padding by
``crop_padding`` pixels and random horizontal flip (He et al. 2016's CIFAR augmentation, as every recipe
of Fashion-MNIST's results table uses), optionally a smaller size for progressive resizing
(Howard's fast.ai DAWNBench entry, Touvron et al. 2019), then normalisation. Every step is one tensor
operation on the whole batch: no PIL image, no DataLoader worker, no Python loop over images.

Random draws come from a generator seeded by ``(seed, epoch, rank)``, so an epoch's augmentation is
rebuilt from those three numbers alone (a resumed run draws what an uninterrupted one drew) and the
global random stream is not touched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnnlab.data.loader import TensorLoader

__all__ = ["Augment", "augmented_batches", "random_crop", "random_flip", "scale_at", "scaled_size", "epoch_generator",
           "training_batches"]


@dataclass(frozen=True)
class Augment:
    """``crop_padding``: pixels of zero padding before the random crop (0: no crop); ``hflip``: random
    horizontal flip with probability 1/2; ``scale``: output size as a fraction of the loader's (None: 1)."""

    crop_padding: int = 0
    hflip: bool = False
    scale: float | None = None

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.hflip or (self.scale is not None and self.scale != 1.0)


def scale_at(schedule: Sequence[tuple[int, float]], epoch: int) -> float | None:
    """The scale of progressive resizing at ``epoch``: that of the last entry ``(first_epoch, scale)`` with
    ``first_epoch <= epoch``; None (the loader's size) before the first entry."""
    scale = None
    for first, value in schedule:
        if first <= epoch:
            scale = float(value)
    return scale


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``size`` times ``scale``, rounded, at least 1 pixel a side."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    """A CPU generator seeded from ``(seed, epoch, rank)`` through numpy's SeedSequence."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(rank), 0x6D656D]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by a random (dy, dx) in [-padding, padding]², the border filled with zeros
    (= pad by ``padding``, then crop the original size at a random corner). Any dtype, (B, C, H, W)."""
    if padding <= 0:
        return images
    batch, _, height, width = images.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(images.device)
    padded = F.pad(images, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # (B, H)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # (B, W)
    index = torch.arange(batch, device=images.device)[:, None, None]
    return padded[index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, H, W, C) -> BCHW


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    if x.dtype == torch.uint8:
        x = x.to(torch.float32).div_(255.0)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def augmented_batches(loader: TensorLoader, augment: Augment) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``loader``'s batches of its current epoch (same images, same order), augmented on the uint8
    pixels and normalised by the loader's transform. Without augmentation the tensors equal the loader's."""
    generator = epoch_generator(loader.seed, loader.epoch, loader.rank)
    transform = loader.transform
    for images, labels in loader.raw_batches():
        x = transform.place(images)
        x = random_crop(x, augment.crop_padding, generator)
        if augment.hflip:
            x = random_flip(x, generator)
        if augment.scale is not None:
            x = _resize(x, scaled_size(transform.image_size, augment.scale))
        yield transform.normalise(x), labels


def training_batches(loader, config) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # noqa: ANN001
    """The batches one training epoch of ``config`` (a TrainConfig) sees: the loader's own when the config
    asks for no augmentation (or the loader is not a ``TensorLoader``), else :func:`augmented_batches`."""
    augment = Augment(config.crop_padding, config.hflip, scale_at(config.resize_schedule, loader.epoch)) \
        if hasattr(config, "crop_padding") else Augment()  # fmt: skip
    if not augment.active or not isinstance(loader, TensorLoader):
        return iter(loader)
    return augmented_batches(loader, augment)
