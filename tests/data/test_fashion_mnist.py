"""Fashion-MNIST from Debian's dataset-fashion-mnist files, checked against torchvision's IDX reader."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from cnnlab.data import channel_stats, get_dataset, make_loaders
from cnnlab.errors import ConfigError

FOLDER = Path("/usr/share/datasets/fashion-mnist")
needs_files = pytest.mark.skipif(
    not (FOLDER / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="apt package dataset-fashion-mnist not installed",
)


@needs_files
def test_splits_have_the_published_sizes_and_balance():
    # Xiao, Rasul & Vollgraf 2017: 60,000 train / 10,000 test images of 28x28, 10 balanced classes
    train = get_dataset("fashion-mnist", split="train")
    test = get_dataset("fashion-mnist", split="test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert train.labels.bincount().tolist() == [6000] * 10
    assert test.labels.bincount().tolist() == [1000] * 10
    mean, std = channel_stats(train.images)
    assert mean[0] == pytest.approx(train.mean[0], abs=1e-3) and std[0] == pytest.approx(train.std[0], abs=1e-3)


@needs_files
def test_raw_idx_files_read_like_torchvision(tmp_path):
    mnist_io = pytest.importorskip("torchvision.datasets.mnist")
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(FOLDER / f"{stem}.gz", "rb") as src, open(tmp_path / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    ours = get_dataset("fashion-mnist", root=tmp_path, split="test")
    assert torch.equal(ours.images[:, 0], mnist_io.read_image_file(str(tmp_path / "t10k-images-idx3-ubyte")))
    assert torch.equal(ours.labels, mnist_io.read_label_file(str(tmp_path / "t10k-labels-idx1-ubyte")).long())


@needs_files
def test_padding_to_32_keeps_the_28x28_pixels():
    bundle = make_loaders("fashion-mnist", batch_size=8, limit_train=8, limit_test=8, image_size=32, in_chans=3)
    images, _ = next(iter(bundle.test))
    assert images.shape == (8, 3, 32, 32)
    black = (0.0 - bundle.mean[0]) / bundle.std[0]
    border = torch.cat([images[..., :2, :].flatten(), images[..., -2:, :].flatten(), images[..., :2].flatten()])
    assert torch.allclose(border, torch.full_like(border, black))
    raw = bundle.test.dataset.images[:8].float() / 255.0
    assert torch.allclose(images[:, :1, 2:30, 2:30], (raw - bundle.mean[0]) / bundle.std[0], atol=1e-6)


def test_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        get_dataset("fashion-mnist", root=tmp_path / "nowhere")
    message = str(error.value)
    assert "dataset-fashion-mnist" in message and "http" in message and "nowhere" in message


def test_environment_variable_points_at_the_files(tmp_path, monkeypatch):
    if not (FOLDER / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("apt package dataset-fashion-mnist not installed")
    target = tmp_path / "fashion-mnist"
    target.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(FOLDER / name, target / name)
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    from cnnlab.data.fashion_mnist import load_fashion_mnist

    assert len(load_fashion_mnist(split="test")) == 10000


def test_not_an_idx_file(tmp_path):
    from cnnlab.data.idx import read_idx

    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ConfigError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
