"""scikit-learn's ``load_digits`` (UCI optical recognition of handwritten digits): 1,797 8x8 images.

Pixel values are 0..16; they are scaled to 0..255 so every dataset shares one uint8 format. The
set has no official test split, so a fixed 20% (seeded permutation, seed 0) is held out as "test",
independent of the train/val split seed.
"""

from __future__ import annotations

import torch

from cnnlab.data.images import ImageTensors, channel_stats
from cnnlab.errors import ConfigError

__all__ = ["load_digits"]

TEST_FRACTION = 0.2
_SPLIT_SEED = 0


def load_digits(split: str = "train") -> ImageTensors:
    """One split of scikit-learn's digits as uint8 (N, 1, 8, 8) images; stats from the train split."""
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise ConfigError(
            "the 'digits' dataset comes from scikit-learn, which is not installed: "
            "pip install scikit-learn (or cnnlab[full])"
        ) from None
    bunch = sklearn_load_digits()
    pixels = torch.from_numpy(bunch.images).mul(255.0 / 16.0).round().clamp(0, 255).to(torch.uint8)
    images = pixels.unsqueeze(1)
    labels = torch.from_numpy(bunch.target).to(torch.int64)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    n_test = round(TEST_FRACTION * len(labels))
    train_idx, test_idx = order[n_test:], order[:n_test]
    mean, std = channel_stats(images[train_idx])
    chosen = train_idx if split == "train" else test_idx
    return ImageTensors(
        images=images[chosen].contiguous(),
        labels=labels[chosen],
        num_classes=10,
        name="digits",
        split=split,
        mean=mean,
        std=std,
        classes=[str(d) for d in range(10)],
    )
