"""An in-memory image dataset: raw ``uint8`` pixels in NCHW plus integer labels.

Every source (idx files, pickles, scikit-learn, an image folder) is read once into this one shape;
turning pixels into normalised float batches is the loader's job (``cnnlab.data.transforms``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cnnlab.errors import ConfigError

__all__ = ["ImageTensors", "channel_stats"]


@dataclass(eq=False)
class ImageTensors(torch.utils.data.Dataset):
    """``images``: uint8 (N, C, H, W) in 0..255; ``labels``: int64 (N,).

    ``mean``/``std`` are per-channel statistics on the 0..1 scale (published or computed on the
    training split); ``classes`` names each label. Indexing returns ``(float image in 0..1, label)``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str
    split: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ConfigError(
                f"dataset {self.name!r}: images must be uint8 (N, C, H, W), got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ConfigError(
                f"dataset {self.name!r}: {self.images.shape[0]} images but labels of shape "
                f"{tuple(self.labels.shape)}"
            )
        self.labels = self.labels.to(torch.int64)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index].float().div_(255.0), int(self.labels[index])

    @property
    def in_chans(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def subset(self, indices: torch.Tensor, split: str | None = None) -> ImageTensors:
        """The same dataset restricted to ``indices`` (statistics and class names kept)."""
        return ImageTensors(
            images=self.images[indices],
            labels=self.labels[indices],
            num_classes=self.num_classes,
            name=self.name,
            split=split or self.split,
            mean=self.mean,
            std=self.std,
            classes=list(self.classes),
        )


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 NCHW images on the 0..1 scale (float64 sums, chunked)."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    count = 0
    for chunk in images.split(4096):
        x = chunk.to(torch.float64).div_(255.0)
        total += x.sum(dim=(0, 2, 3))
        total_sq += x.square().sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / max(count, 1)
    std = (total_sq / max(count, 1) - mean.square()).clamp_min(1e-12).sqrt()
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
