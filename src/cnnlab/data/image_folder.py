"""Any ImageFolder tree: ``root/<class>/<image>`` (torchvision's layout), read into memory.

If the folder has ``train/`` and ``val/`` (or ``test/``) sub-folders with the same classes, they are
the splits; otherwise a fixed 20% of each class (every 5th file in sorted order) is the test split.
Pillow is imported only here, and only when a folder is actually read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.images import ImageTensors, channel_stats
from cnnlab.data.transforms import image_size_pair
from cnnlab.errors import ConfigError

__all__ = ["load_image_folder", "folder_facts", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_TEST_EVERY = 5


def _class_files(folder: Path) -> dict[str, list[Path]]:
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    found = {}
    for name in classes:
        files = sorted(p for p in (folder / name).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if files:
            found[name] = files
    return found


def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError(
            "reading an image folder needs Pillow, which is not installed: pip install pillow"
        ) from None
    return Image


@contextmanager
def _reading(image, path: Path) -> Iterator[None]:
    """A file Pillow cannot open or decode (truncated, not an image, a decompression bomb, unreadable)
    becomes a ConfigError naming it; ``UnidentifiedImageError`` is an ``OSError``."""
    try:
        yield
    except (OSError, ValueError, SyntaxError, image.DecompressionBombError) as exc:
        raise ConfigError(f"cannot read image {path}: {exc}; remove or replace that file") from None


def _read_image(image, path: Path, size: tuple[int, int] | None, mode: str) -> np.ndarray:
    """One file as a uint8 (H, W[, C]) array, resized to ``size`` (H, W) when given."""
    with _reading(image, path), image.open(path) as img:
        img = img.convert(mode)
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((size[1], size[0]), image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _read_images(files: list[Path], size: tuple[int, int] | None, mode: str):
    image = _pil_image()
    arrays = [_read_image(image, path, size, mode) for path in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ConfigError(
            f"images in the folder have different sizes {sorted(shapes)[:4]}...; pass image_size= "
            "(--image-size) to resize them all to one size"
        )
    stacked = np.stack(arrays)
    return stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)


def _layout(folder: Path, split: str) -> tuple[dict[str, list[Path]], list[str], bool]:
    """(files per class of ``split``, all class names, whether the tree has split folders)."""
    split_dirs = {s: folder / s for s in ("train", "val", "test") if (folder / s).is_dir()}
    has_splits = "train" in split_dirs and len(split_dirs) > 1
    if has_splits:
        source = split_dirs["train"] if split == "train" else split_dirs.get("test", split_dirs.get("val"))
        per_class = _class_files(source)
        all_classes = sorted(_class_files(split_dirs["train"]))
    else:
        per_class = _class_files(folder)
        all_classes = sorted(per_class)
    if not all_classes:
        raise ConfigError(f"image folder {folder} has no <class>/<image> files ({', '.join(IMAGE_EXTENSIONS)})")
    return per_class, all_classes, has_splits


def folder_facts(root: str | os.PathLike) -> tuple[list[str], tuple[int, int]]:
    """(class names, (H, W) of the first training image) of an ImageFolder tree, reading one image header."""
    folder = Path(root).expanduser()
    per_class, classes, _ = _layout(folder, "train")
    first = next(iter(per_class.values()))[0]
    image = _pil_image()
    with _reading(image, first), image.open(first) as img:
        width, height = img.size
    return classes, (height, width)


def load_image_folder(
    root: str | os.PathLike,
    split: str = "train",
    image_size: int | tuple[int, int] | None = None,
    grayscale: bool = False,
) -> ImageTensors:
    """One split of an ImageFolder tree as uint8 (N, C, H, W); images resized when ``image_size``."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"dataset {str(root)!r} is neither a known dataset name nor an existing folder")
    per_class, all_classes, has_splits = _layout(folder, split)
    files, labels = [], []
    for name, class_files in per_class.items():
        if name not in all_classes:
            raise ConfigError(f"class {name!r} of {folder}/{split} is missing from the train split")
        if not has_splits:
            keep = [i % _TEST_EVERY == 0 for i in range(len(class_files))]
            class_files = [f for f, k in zip(class_files, keep, strict=True) if k == (split == "test")]
        files += class_files
        labels += [all_classes.index(name)] * len(class_files)
    size = None if image_size is None else image_size_pair(image_size, "image folder")
    images = torch.from_numpy(_read_images(files, size, "L" if grayscale else "RGB"))
    mean, std = channel_stats(images)
    return ImageTensors(
        images=images,
        labels=torch.tensor(labels, dtype=torch.int64),
        num_classes=len(all_classes),
        name=folder.name,
        split=split,
        mean=mean,
        std=std,
        classes=all_classes,
    )
