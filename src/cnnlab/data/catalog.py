"""Dataset names cnnlab knows, and ``get_dataset`` that reads one split of any of them."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from cnnlab.data.images import ImageTensors
from cnnlab.errors import ConfigError

__all__ = ["get_dataset", "list_datasets", "canonical_name"]

# canonical name -> (description, aliases)
DATASETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fashion-mnist": ("Fashion-MNIST, 60k/10k 28x28 grey, 10 classes (idx files)",
                      ("fashion_mnist", "fashionmnist", "fmnist")),
    "digits": ("scikit-learn load_digits, 1,797 8x8 grey, 10 classes", ("sklearn-digits",)),
    "cifar10": ("CIFAR-10, 50k/10k 32x32 RGB, 10 classes (python pickles)", ("cifar-10",)),
    "cifar100": ("CIFAR-100, 50k/10k 32x32 RGB, 100 classes (python pickles)", ("cifar-100",)),
}  # fmt: skip
SPLITS = ("train", "test")


def list_datasets() -> list[str]:
    """The built-in dataset names (any ImageFolder path is accepted as well)."""
    return list(DATASETS)


def canonical_name(name: str) -> str | None:
    """The built-in name ``name`` refers to, or None when it is not one (maybe a folder)."""
    key = str(name).strip().lower()
    for canonical, (_, aliases) in DATASETS.items():
        if key == canonical or key in aliases:
            return canonical
    return None


@functools.lru_cache(maxsize=8)
def _load(name: str, root: str | None, split: str, download: bool, image_size) -> ImageTensors:
    if name == "fashion-mnist":
        from cnnlab.data.fashion_mnist import load_fashion_mnist

        return load_fashion_mnist(root, split, download)
    if name == "digits":
        from cnnlab.data.digits import load_digits

        return load_digits(split)
    if name in ("cifar10", "cifar100"):
        from cnnlab.data.cifar import load_cifar

        return load_cifar(name, root, split, download)
    from cnnlab.data.image_folder import load_image_folder

    return load_image_folder(name, split, image_size)


def get_dataset(
    name: str | os.PathLike,
    root: str | os.PathLike | None = None,
    split: str = "train",
    download: bool = False,
    image_size: int | tuple[int, int] | None = None,
) -> ImageTensors:
    """One split of a dataset as uint8 images in memory.

    ``name``: one of :func:`list_datasets` or a path to an ImageFolder tree. ``root``: the folder
    holding the files (default: ``$CNNLAB_DATA``, ``~/.cache/cnnlab/data``, ``/usr/share/datasets``).
    ``download=True`` fetches a missing built-in dataset (needs internet). ``image_size`` is used
    only when reading an image folder (images of different sizes are resized on load).
    Results are cached per process; treat them as read-only.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, got {split!r}")
    canonical = canonical_name(str(name))
    if canonical is None and not Path(name).expanduser().is_dir():
        raise ConfigError(
            f"unknown dataset {str(name)!r}: use one of {list_datasets()} or the path of an "
            "ImageFolder tree (<root>/<class>/<image>)"
        )
    key = canonical or str(Path(name).expanduser().resolve())
    size = tuple(image_size) if isinstance(image_size, (list, tuple)) else image_size
    if canonical is not None:  # built-in sets are stored at their native size (resized per batch)
        size = None
    return _load(key, None if root is None else str(root), split, bool(download), size)
