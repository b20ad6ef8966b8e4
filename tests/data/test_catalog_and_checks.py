"""The data catalog's facts agree with what the loaders read; bad sizes, seeds and image files are
ConfigErrors naming the value or the file."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from cnnlab.data import bundle as bundle_module
from cnnlab.data import cifar as cifar_module
from cnnlab.data import get_dataset, make_loaders
from cnnlab.data.catalog import DATASETS, dataset_facts, list_datasets
from cnnlab.errors import ConfigError


def _fake_cifar(root, name):
    """A few rows in the layout of the published pickles (https://www.cs.toronto.edu/~kriz/cifar.html)."""
    folder, train_files, test_files, label_key, meta_file, names_key, classes = cifar_module._LAYOUT[name]
    (root / folder).mkdir(parents=True)
    rows = {b"data": np.zeros((2, 3072), dtype=np.uint8), label_key: [0, classes - 1]}
    for file in (*train_files, *test_files):
        (root / folder / file).write_bytes(pickle.dumps(rows))
    (root / folder / meta_file).write_bytes(pickle.dumps({names_key: [b"c%d" % i for i in range(classes)]}))
    return root


def _loadable(name, tmp_path):
    if name.startswith("cifar"):
        return get_dataset(name, root=_fake_cifar(tmp_path, name), split="train")
    try:
        return get_dataset(name, split="train")
    except ConfigError as exc:  # not installed on this machine
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", list_datasets())
def test_catalog_facts_match_the_loaded_split(name, tmp_path):
    loaded = _loadable(name, tmp_path)
    facts = dataset_facts(name)
    assert (facts.num_classes, facts.in_chans, facts.image_size) == (
        loaded.num_classes, loaded.in_chans, loaded.image_size
    )


def test_published_facts_of_the_built_in_sets():
    """Fashion-MNIST: 28x28 grey, 10 classes (Xiao et al. 2017); CIFAR-10/100: 32x32 RGB, 10/100 classes
    (Krizhevsky 2009); scikit-learn digits: 8x8 grey, 10 classes (UCI optdigits, load_digits)."""
    expected = {"fashion-mnist": (10, 1, (28, 28)), "digits": (10, 1, (8, 8)), "cifar10": (10, 3, (32, 32)),
                "cifar100": (100, 3, (32, 32))}  # fmt: skip
    assert {n: (f.num_classes, f.in_chans, f.image_size) for n, f in DATASETS.items()} == expected
    assert dataset_facts("FMNIST").name == "fashion-mnist" and dataset_facts("cifar-10").name == "cifar10"


def test_facts_of_a_missing_built_in_set_need_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    assert dataset_facts("cifar100").num_classes == 100  # nothing on disk, nothing read
    with pytest.raises(ConfigError, match="unknown dataset"):
        dataset_facts(tmp_path / "no-such-folder")


def _image_folder(root, sizes=((12, 10),)):
    image_module = pytest.importorskip("PIL.Image")
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            height, width = sizes[i % len(sizes)]
            image_module.fromarray(np.full((height, width, 3), 40 * i, dtype=np.uint8)).save(root / label / f"{i}.png")
    return root


def test_facts_of_an_image_folder(tmp_path):
    facts = dataset_facts(_image_folder(tmp_path / "pets"))
    assert (facts.name, facts.num_classes, facts.in_chans, facts.image_size) == ("pets", 2, 3, (12, 10))


def test_an_unreadable_image_names_the_file(tmp_path):
    root = _image_folder(tmp_path / "pets")
    (root / "dog" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n but then garbage")
    with pytest.raises(ConfigError, match=r"cannot read image .*dog/3\.png"):
        get_dataset(root, split="train")


@pytest.mark.parametrize("size", [0, -3, 4097, 100_000, (32, 0), 2.5])
def test_image_sizes_outside_1_to_4096_are_refused(size):
    with pytest.raises(ConfigError, match="image_size"):
        make_loaders("digits", batch_size=8, image_size=size)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_seeds_outside_numpy_range_are_refused(seed):
    with pytest.raises(ConfigError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
        make_loaders("digits", batch_size=8, seed=seed)


def test_a_batch_beyond_the_memory_share_is_refused(monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(bundle_module, "_physical_memory_bytes", lambda: 64 * 2**20)  # a 64 MiB machine
    # 128 images of 1x256x256 float32 = 32 MiB, over 10 % of 64 MiB
    with pytest.raises(ConfigError, match="a batch of 128 images of 1x256x256 takes 0.0 GiB as float32, more than "
                                          "10% of this machine's 0.1 GiB"):  # fmt: skip
        make_loaders("digits", batch_size=128, image_size=256)
    small = make_loaders("digits", batch_size=8, image_size=256)  # 2 MiB a batch: fits
    # evaluation batches shrink from 256 to what fits: 6.4 MiB / 256 KiB per image = 25 images
    assert small.train.batch_size == 8 and small.test.batch_size == 25


def test_limit_val_keeps_that_many_validation_images():
    pytest.importorskip("sklearn")
    bundle = make_loaders("digits", batch_size=8, val_fraction=0.2, limit_val=50)
    assert len(bundle.val.dataset) == 50
