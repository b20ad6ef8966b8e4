"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 60k train / 10k test, 28x28 grey.

Read from the standard IDX files (``train-images-idx3-ubyte[.gz]`` ...), e.g. those Debian's
``dataset-fashion-mnist`` package installs under ``/usr/share/datasets/fashion-mnist/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from cnnlab.data.download import download_file
from cnnlab.data.idx import read_idx
from cnnlab.data.images import ImageTensors
from cnnlab.data.locate import DATA_ENV_VAR, candidate_dirs, default_download_dir
from cnnlab.errors import ConfigError

__all__ = ["load_fashion_mnist", "download_fashion_mnist", "FASHION_MNIST_CLASSES"]

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
# Per-pixel mean/std of the 60k training images on the 0..1 scale (the commonly quoted values;
# tests/data recompute them from the files).
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SUBDIRS = ("fashion-mnist", "fashion_mnist", "FashionMNIST", "FashionMNIST/raw")
_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _locate(root: str | os.PathLike | None, split: str) -> tuple[Path, Path]:
    folders = candidate_dirs(root, _SUBDIRS)
    for folder in folders:
        paths = [_find(folder, stem) for stem in _FILES[split]]
        if all(paths):
            return paths[0], paths[1]  # type: ignore[return-value]
    looked = ", ".join(str(f) for f in folders)
    raise ConfigError(
        f"Fashion-MNIST ({split}) not found; looked in: {looked}. Get it with "
        f"`sudo apt install dataset-fashion-mnist` (files go to /usr/share/datasets/fashion-mnist/), "
        f"or download the four *-ubyte.gz files from {_URL} into a folder and pass root=<folder> "
        f"(or --data-root / ${DATA_ENV_VAR}), or call get_dataset('fashion-mnist', download=True)."
    )


def download_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """Download the four IDX files (about 30 MB) into ``root/fashion-mnist``; returns that folder."""
    folder = default_download_dir(root, "fashion-mnist")
    for stems in _FILES.values():
        for stem in stems:
            download_file(_URL + stem + ".gz", folder / f"{stem}.gz")
    return folder


def load_fashion_mnist(
    root: str | os.PathLike | None = None, split: str = "train", download: bool = False
) -> ImageTensors:
    """One split of Fashion-MNIST as uint8 (N, 1, 28, 28) images and int64 labels."""
    if download:
        try:
            _locate(root, split)
        except ConfigError:
            root = download_fashion_mnist(root)
    images_path, labels_path = _locate(root, split)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ConfigError(f"{images_path}: unexpected shapes {images.shape} / {labels.shape}")
    return ImageTensors(
        images=torch.from_numpy(images.copy()).unsqueeze(1),
        labels=torch.from_numpy(labels.astype("int64")),
        num_classes=10,
        name="fashion-mnist",
        split=split,
        mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD,
        classes=list(FASHION_MNIST_CLASSES),
    )
