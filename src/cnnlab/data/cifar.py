"""CIFAR-10 / CIFAR-100 (Krizhevsky 2009) from the standard python-pickle folders.

``cifar-10-batches-py/`` holds ``data_batch_1..5``, ``test_batch`` and ``batches.meta``;
``cifar-100-python/`` holds ``train``, ``test`` and ``meta``. Each pickle stores ``data`` as
(N, 3072) uint8 rows in channel-major order (1024 red, 1024 green, 1024 blue values of 32x32).
"""

from __future__ import annotations

import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.download import download_file
from cnnlab.data.images import ImageTensors
from cnnlab.data.locate import DATA_ENV_VAR, candidate_dirs, default_download_dir
from cnnlab.errors import ConfigError

__all__ = ["load_cifar", "download_cifar"]

# name -> (folder, train files, test files, label key, class-names file, class-names key, classes)
_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                b"labels", "batches.meta", b"label_names", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"],
                 b"fine_labels", "meta", b"fine_label_names", 100),
}  # fmt: skip
# Per-channel mean/std of the 50k training images on the 0..1 scale (the commonly quoted values).
_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_URLS = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as handle:
        return pickle.load(handle, encoding="bytes")


def _locate(name: str, root: str | os.PathLike | None) -> Path:
    folder_name, train_files, test_files = _LAYOUT[name][:3]
    folders = candidate_dirs(root, (folder_name, name, name.replace("cifar", "cifar-")))
    for folder in folders:
        if all((folder / f).is_file() for f in (*train_files, *test_files)):
            return folder
    looked = ", ".join(str(f) for f in folders)
    raise ConfigError(
        f"{name} not found; looked in: {looked}. Download {_URLS[name]}, unpack it so that "
        f"'{folder_name}/' sits in a folder, and pass root=<that folder> (or --data-root / "
        f"${DATA_ENV_VAR}), or call get_dataset({name!r}, download=True)."
    )


def download_cifar(name: str, root: str | os.PathLike | None = None) -> Path:
    """Download and unpack the python version of CIFAR-10/100 under ``root``; returns the root."""
    base = default_download_dir(root, "")
    archive = download_file(_URLS[name], base / Path(_URLS[name]).name)
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(base, filter="data")
        except TypeError:  # Python without extraction filters (< 3.10.12)
            tar.extractall(base)  # noqa: S202 - the archive comes from the dataset's own site
    return base


def load_cifar(
    name: str, root: str | os.PathLike | None = None, split: str = "train", download: bool = False
) -> ImageTensors:
    """One split of CIFAR-10 or CIFAR-100 as uint8 (N, 3, 32, 32) images and int64 labels."""
    if download:
        try:
            _locate(name, root)
        except ConfigError:
            root = download_cifar(name, root)
    folder = _locate(name, root)
    _, train_files, test_files, label_key, meta_file, names_key, num_classes = _LAYOUT[name]
    rows, labels = [], []
    for file in train_files if split == "train" else test_files:
        batch = _unpickle(folder / file)
        rows.append(np.asarray(batch[b"data"], dtype=np.uint8))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    classes: list[str] = []
    if (folder / meta_file).is_file():
        classes = [c.decode() for c in _unpickle(folder / meta_file).get(names_key, [])]
    data = np.concatenate(rows).reshape(-1, 3, 32, 32)
    mean, std = _STATS[name]
    return ImageTensors(
        images=torch.from_numpy(data),
        labels=torch.from_numpy(np.concatenate(labels)),
        num_classes=num_classes,
        name=name,
        split=split,
        mean=mean,
        std=std,
        classes=classes,
    )
