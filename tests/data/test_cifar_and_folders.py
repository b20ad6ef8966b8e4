"""CIFAR pickle folders and ImageFolder trees, built in a temp dir in the published formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from cnnlab.data import get_dataset, make_loaders
from cnnlab.errors import ConfigError


def _write_cifar10(folder, n_per_batch=4):
    """The layout of cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n_per_batch).tolist()}  # fmt: skip
        batches[name] = batch
        (folder / name).write_bytes(pickle.dumps(batch))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    return batches


def test_cifar10_rows_become_channel_major_images(tmp_path):
    batches = _write_cifar10(tmp_path / "cifar-10-batches-py")
    train = get_dataset("cifar10", root=tmp_path, split="train")
    test = get_dataset("cifar10", root=tmp_path, split="test")
    assert train.images.shape == (20, 3, 32, 32) and len(test) == 4 and train.num_classes == 10
    row = batches["data_batch_1"][b"data"][1]
    # a row is 1024 red, then 1024 green, then 1024 blue values, each 32x32 row-major
    assert torch.equal(train.images[1, 1], torch.from_numpy(row[1024:2048].reshape(32, 32)))
    assert train.labels[:4].tolist() == batches["data_batch_1"][b"labels"]
    assert train.classes[0] == "airplane"


def test_cifar_found_through_the_environment(tmp_path, monkeypatch):
    _write_cifar10(tmp_path / "cifar-10-batches-py")
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    bundle = make_loaders("cifar-10", batch_size=4, val_fraction=0.25)
    assert bundle.in_chans == 3 and len(bundle.val.dataset) == 5


def test_missing_cifar_names_the_download(tmp_path):
    with pytest.raises(ConfigError, match="cifar-100-python.tar.gz"):
        get_dataset("cifar100", root=tmp_path)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ConfigError, match="fashion-mnist"):
        get_dataset("imagenet-22k-not-here")


def test_image_folder_tree(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    for label, colour in (("cat", 40), ("dog", 200)):
        (tmp_path / label).mkdir()
        for i in range(10):
            pixels = np.full((12, 10, 3), colour + i, dtype=np.uint8)
            image_module.fromarray(pixels).save(tmp_path / label / f"{i:02d}.png")
    train = get_dataset(tmp_path, split="train")
    test = get_dataset(tmp_path, split="test")
    assert train.images.shape == (16, 3, 12, 10) and test.images.shape == (4, 3, 12, 10)
    assert train.classes == ["cat", "dog"] and test.labels.tolist() == [0, 0, 1, 1]
    assert test.images[0, 0, 0, 0].item() == 40  # cat/00.png is in every-5th test share
    resized = make_loaders(tmp_path, batch_size=4, image_size=8, val_fraction=0.25)
    images, _ = next(iter(resized.train))
    assert images.shape == (4, 3, 8, 8) and resized.num_classes == 2
