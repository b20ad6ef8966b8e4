"""Datasets and loaders: Fashion-MNIST, scikit-learn digits, CIFAR-10/100 and ImageFolder trees,
read once into memory as uint8 tensors and served as normalised float batches.

``get_dataset(name, root=None, split="train")`` reads one split; ``make_loaders(name, batch_size,
...)`` returns a :class:`DataBundle` of train / val / test loaders; ``list_datasets()`` names the
built-in sets. A missing dataset raises :class:`cnnlab.ConfigError` saying how to get it.
"""

from __future__ import annotations

from cnnlab.data.bundle import DataBundle, make_loaders, split_indices
from cnnlab.data.catalog import get_dataset, list_datasets
from cnnlab.data.images import ImageTensors, channel_stats
from cnnlab.data.loader import TensorLoader
from cnnlab.data.locate import DATA_ENV_VAR
from cnnlab.data.transforms import BatchTransform

__all__ = [
    "DATA_ENV_VAR",
    "BatchTransform",
    "DataBundle",
    "ImageTensors",
    "TensorLoader",
    "channel_stats",
    "get_dataset",
    "list_datasets",
    "make_loaders",
    "split_indices",
]
