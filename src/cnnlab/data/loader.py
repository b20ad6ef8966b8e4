"""A fast in-memory batch loader with a reproducible, shardable order.

The order of epoch ``e`` is ``randperm(n, generator=Generator().manual_seed(seed + e))``, so it can
be rebuilt from ``(seed, epoch)`` alone: resuming needs no saved loader state, and every process of
a distributed run draws the same permutation and keeps its own ``rank::world_size`` slice (the
scheme of ``torch.utils.data.DistributedSampler``: the permutation is padded with its first indices
to a multiple of ``world_size`` when shuffling; evaluation shards are disjoint and unpadded).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch

from cnnlab.data.images import ImageTensors
from cnnlab.data.transforms import BatchTransform

__all__ = ["TensorLoader"]


class TensorLoader:
    """Iterate ``(images, labels)`` batches: float (B, C, H, W) normalised, int64 (B,)."""

    def __init__(
        self,
        dataset: ImageTensors,
        batch_size: int,
        transform: BatchTransform,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.transform = transform
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        self.rank = 0
        self.world_size = 1
        self._images = dataset.images
        self._labels = dataset.labels

    # -- configuration -------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Select the order of epoch ``epoch`` (``seed + epoch`` seeds the permutation)."""
        self.epoch = int(epoch)

    def shard(self, rank: int, world_size: int) -> TensorLoader:
        """A copy that yields only this process's share of every epoch."""
        other = copy.copy(self)
        other.rank, other.world_size = int(rank), int(world_size)
        return other

    def to(self, device: torch.device | str) -> TensorLoader:
        """A copy whose stored images live on ``device`` (batches are then built there)."""
        other = copy.copy(self)
        other._images = self._images.to(device)
        other._labels = self._labels.to(device)
        return other

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def num_samples(self) -> int:
        """Samples this process sees per epoch."""
        n, w = len(self.dataset), self.world_size
        if self.shuffle and w > 1:
            return -(-n // w)
        return len(range(self.rank, n, w))

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        # a training batch of one sample is dropped too: batch norm cannot train on it
        keep_rest = rest > 0 and not self.drop_last and not (self.shuffle and rest == 1)
        return full + int(keep_rest)

    # -- iteration -----------------------------------------------------------------------------
    def indices(self) -> torch.Tensor | None:
        """This process's sample indices for the current epoch (None: all, in order)."""
        n, w = len(self.dataset), self.world_size
        if not self.shuffle:
            return None if w == 1 else torch.arange(self.rank, n, w)
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, generator=generator)
        if w > 1:
            total = -(-n // w) * w
            order = torch.cat([order, order[: total - n]])[self.rank : total : w]
        return order

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in self.raw_batches():
            yield self.transform(images), labels

    def raw_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The same batches as iterating, before the transform: stored uint8 pixels and labels."""
        order = self.indices()
        if order is not None:
            order = order.to(self._images.device)
        for b in range(len(self)):
            start, stop = b * self.batch_size, min((b + 1) * self.batch_size, self.num_samples)
            if order is None:
                images, labels = self._images[start:stop], self._labels[start:stop]
            else:
                idx = order[start:stop]
                images, labels = self._images[idx], self._labels[idx]
            yield images, labels
