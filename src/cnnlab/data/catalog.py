"""Dataset names cnnlab knows, the facts of each (classes, channels, native size), and ``get_dataset``
that reads one split of any of them.

The catalog is the one place these facts live: a command that only needs the shape of a dataset
(``cnnlab compare --no-train``) asks :func:`dataset_facts` and reads no image.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cnnlab.data.images import ImageTensors
from cnnlab.data.transforms import image_size_pair
from cnnlab.errors import ConfigError

__all__ = ["DATASETS", "DatasetFacts", "canonical_name", "dataset_facts", "get_dataset", "list_datasets"]


@dataclass(frozen=True)
class DatasetFacts:
    """What a model needs to know about a dataset: ``num_classes``, ``in_chans`` and the native
    ``image_size`` (H, W) of its images (None for an image folder whose images differ in size)."""

    name: str
    num_classes: int
    in_chans: int
    image_size: tuple[int, int] | None
    description: str = ""
    aliases: tuple[str, ...] = ()


# The built-in sets, as their loaders read them (tests/data check each fact against the loaded split).
DATASETS: dict[str, DatasetFacts] = {
    facts.name: facts
    for facts in (
        DatasetFacts("fashion-mnist", 10, 1, (28, 28), "Fashion-MNIST, 60k/10k 28x28 grey, 10 classes (idx files)",
                     ("fashion_mnist", "fashionmnist", "fmnist")),
        DatasetFacts("digits", 10, 1, (8, 8), "scikit-learn load_digits, 1,797 8x8 grey, 10 classes",
                     ("sklearn-digits",)),
        DatasetFacts("cifar10", 10, 3, (32, 32), "CIFAR-10, 50k/10k 32x32 RGB, 10 classes (python pickles)",
                     ("cifar-10",)),
        DatasetFacts("cifar100", 100, 3, (32, 32), "CIFAR-100, 50k/10k 32x32 RGB, 100 classes (python pickles)",
                     ("cifar-100",)),
    )
}  # fmt: skip
SPLITS = ("train", "test")


def list_datasets() -> list[str]:
    """The built-in dataset names (any ImageFolder path is accepted as well)."""
    return list(DATASETS)


def canonical_name(name: str) -> str | None:
    """The built-in name ``name`` refers to, or None when it is not one (maybe a folder)."""
    key = str(name).strip().lower()
    for canonical, facts in DATASETS.items():
        if key == canonical or key in facts.aliases:
            return canonical
    return None


def _unknown(name: object) -> ConfigError:
    return ConfigError(
        f"unknown dataset {str(name)!r}: use one of {list_datasets()} or the path of an "
        "ImageFolder tree (<root>/<class>/<image>)"
    )


def dataset_facts(name: str | os.PathLike) -> DatasetFacts:
    """The facts of a built-in dataset (from the table, no file read) or of an ImageFolder tree (its
    class folders and the size of its first image; images are read as RGB)."""
    canonical = canonical_name(str(name))
    if canonical is not None:
        return DATASETS[canonical]
    if not Path(name).expanduser().is_dir():
        raise _unknown(name)
    from cnnlab.data.image_folder import folder_facts

    classes, image_size = folder_facts(name)
    return DatasetFacts(Path(name).expanduser().name, len(classes), 3, image_size, f"image folder {name}")


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
        raise _unknown(name)
    key = canonical or str(Path(name).expanduser().resolve())
    size = None if image_size is None else image_size_pair(image_size, "get_dataset")
    if canonical is not None:  # built-in sets are stored at their native size (resized per batch)
        size = None
    return _load(key, None if root is None else str(root), split, bool(download), size)
