"""Any ImageFolder tree: ``root/<class>/<image>`` (torchvision's layout), read into memory.

If the folder has ``train/`` and ``val/`` (or ``test/``) sub-folders with the same classes, they are
the splits; otherwise a fixed 20% of each class (every 5th file in sorted order) is the test split.
Pillow is imported only here, and only when a folder is actually read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.images import ImageTensors, channel_stats
from cnnlab.errors import ConfigError

__all__ = ["load_image_folder", "IMAGE_EXTENSIONS"]

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


def _read_images(files: list[Path], size: tuple[int, int] | None, mode: str):
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError(
            "reading an image folder needs Pillow, which is not installed: pip install pillow"
        ) from None
    arrays = []
    for path in files:
        with Image.open(path) as img:
            img = img.convert(mode)
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.BILINEAR)
            arrays.append(np.asarray(img, dtype=np.uint8))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ConfigError(
            f"images in the folder have different sizes {sorted(shapes)[:4]}...; pass image_size= "
            "(--image-size) to resize them all to one size"
        )
    stacked = np.stack(arrays)
    return stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)


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
    files, labels = [], []
    for name, class_files in per_class.items():
        if name not in all_classes:
            raise ConfigError(f"class {name!r} of {folder}/{split} is missing from the train split")
        if not has_splits:
            keep = [i % _TEST_EVERY == 0 for i in range(len(class_files))]
            class_files = [f for f, k in zip(class_files, keep, strict=True) if k == (split == "test")]
        files += class_files
        labels += [all_classes.index(name)] * len(class_files)
    size = None if image_size is None else (
        (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    )
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
