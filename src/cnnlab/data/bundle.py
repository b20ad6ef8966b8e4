"""``make_loaders``: one call from a dataset name to train / val / test loaders ready for a network."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from cnnlab.arith.checks import require_positive, require_range, require_seed
from cnnlab.data.catalog import get_dataset
from cnnlab.data.images import ImageTensors
from cnnlab.data.loader import TensorLoader
from cnnlab.data.transforms import BatchTransform, image_size_pair, resolve_resize
from cnnlab.errors import ConfigError

__all__ = ["DataBundle", "make_loaders", "split_indices"]


@dataclass
class DataBundle:
    """Loaders of one dataset plus what a model needs to know about its input.

    ``val`` is None when ``val_fraction == 0``. ``image_size`` is (H, W) as the loaders yield it;
    ``input_size`` is (in_chans, H, W).
    """

    train: TensorLoader
    val: TensorLoader | None
    test: TensorLoader
    num_classes: int
    in_chans: int
    image_size: tuple[int, int]
    name: str
    classes: list[str] = field(default_factory=list)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def input_size(self) -> tuple[int, int, int]:
        return (self.in_chans, *self.image_size)

    def loaders(self) -> dict[str, TensorLoader]:
        """The non-empty loaders by split name."""
        found = {"train": self.train, "val": self.val, "test": self.test}
        return {k: v for k, v in found.items() if v is not None}


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) indices of a seeded permutation of ``range(n)``; val is its first part."""
    require_range("val_fraction", val_fraction, 0.0, 1.0, "make_loaders", high_open=True)
    seed = require_seed("seed", seed, "make_loaders")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    n_val = int(round(val_fraction * n))
    return order[n_val:], order[:n_val]


def _limit(indices: torch.Tensor, limit: int | None, what: str) -> torch.Tensor:
    if limit is None:
        return indices
    return indices[: require_positive(what, limit, "make_loaders")]


# One batch of input images may take at most this share of the machine's memory: the network's
# activations are many times larger still, so a batch beyond it cannot train here.
MAX_BATCH_MEMORY_SHARE = 0.1


def _physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def _batch_fitting_memory(in_chans: int, image_size: tuple[int, int]) -> int:
    """The largest batch of float32 images within :data:`MAX_BATCH_MEMORY_SHARE` of the memory."""
    memory = _physical_memory_bytes()
    if memory is None:
        return 2**31
    return int(MAX_BATCH_MEMORY_SHARE * memory) // (4 * in_chans * image_size[0] * image_size[1])


def _check_batch_memory(batch_size: int, in_chans: int, image_size: tuple[int, int]) -> None:
    batch_bytes = 4 * batch_size * in_chans * image_size[0] * image_size[1]  # float32
    memory = _physical_memory_bytes()
    if memory is not None and batch_size > _batch_fitting_memory(in_chans, image_size):
        raise ConfigError(
            f"make_loaders: a batch of {batch_size} images of {in_chans}x{image_size[0]}x{image_size[1]} takes "
            f"{batch_bytes / 2**30:.1f} GiB as float32, more than {MAX_BATCH_MEMORY_SHARE:.0%} of this machine's "
            f"{memory / 2**30:.1f} GiB; lower the batch size or the image size"
        )


def make_loaders(
    name: str | os.PathLike,
    batch_size: int,
    val_fraction: float = 0.1,
    seed: int = 0,
    image_size: int | tuple[int, int] | None = None,
    in_chans: int | None = None,
    root: str | os.PathLike | None = None,
    limit_train: int | None = None,
    limit_val: int | None = None,
    limit_test: int | None = None,
    eval_batch_size: int | None = None,
    resize: str = "auto",
    download: bool = False,
    drop_last: bool = False,
) -> DataBundle:
    """Train / val / test loaders of ``name`` (see :func:`cnnlab.data.get_dataset`).

    The validation set is a seeded ``val_fraction`` of the official train split; ``limit_*`` keep
    a seeded random subset of that many samples. ``image_size`` pads (when close, e.g. 28 -> 32)
    or interpolates (e.g. 8 -> 32) the images; ``in_chans=3`` repeats a grey channel.
    Normalisation uses the train split's per-channel mean and std.
    """
    batch_size = require_positive("batch_size", batch_size, "make_loaders")
    if eval_batch_size is not None:
        require_positive("eval_batch_size", eval_batch_size, "make_loaders")
    require_seed("seed", seed, "make_loaders")
    folder_size = None if image_size is None else image_size_pair(image_size, "make_loaders")
    train_full: ImageTensors = get_dataset(name, root, "train", download, folder_size)
    test_set: ImageTensors = get_dataset(name, root, "test", download, folder_size)
    train_idx, val_idx = split_indices(len(train_full), val_fraction, seed)
    train_idx = _limit(train_idx, limit_train, "limit_train").sort().values
    val_idx = _limit(val_idx, limit_val, "limit_val").sort().values
    if limit_test is not None:
        test_order = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(int(seed)))
        test_set = test_set.subset(_limit(test_order, limit_test, "limit_test").sort().values)
    if len(train_idx) == 0:
        raise ConfigError(f"no training samples left (val_fraction={val_fraction}, limit_train={limit_train})")

    source_size = train_full.image_size
    target_size = source_size if image_size is None else folder_size
    chans = train_full.in_chans if in_chans is None else require_positive("in_chans", in_chans, "make_loaders")
    _check_batch_memory(max(batch_size, eval_batch_size or 0), chans, target_size)
    if eval_batch_size is None:  # evaluation needs no gradients: larger batches, as far as memory allows
        eval_batch_size = max(batch_size, min(256, _batch_fitting_memory(chans, target_size)))
    transform = BatchTransform(
        mean=train_full.mean,
        std=train_full.std,
        source_size=source_size,
        image_size=target_size,
        source_chans=train_full.in_chans,
        in_chans=chans,
        resize=resolve_resize(source_size, target_size, resize),
    )
    train = TensorLoader(train_full.subset(train_idx, "train"), batch_size, transform, True, seed, drop_last)
    val = None
    if len(val_idx) > 0:
        val = TensorLoader(train_full.subset(val_idx, "val"), eval_batch_size, transform)
    test = TensorLoader(test_set, eval_batch_size, transform)
    return DataBundle(
        train=train,
        val=val,
        test=test,
        num_classes=train_full.num_classes,
        in_chans=chans,
        image_size=target_size,
        name=train_full.name,
        classes=list(train_full.classes),
        mean=train_full.mean,
        std=train_full.std,
    )
