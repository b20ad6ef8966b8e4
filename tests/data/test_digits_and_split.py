"""scikit-learn digits through cnnlab.data: shapes, dtypes, normalisation, deterministic splits."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.data import get_dataset, list_datasets, make_loaders, split_indices

sklearn_datasets = pytest.importorskip("sklearn.datasets")


def test_digits_splits_cover_the_sklearn_set():
    reference = sklearn_datasets.load_digits()  # 1,797 images of 8x8, values 0..16
    train, test = get_dataset("digits", split="train"), get_dataset("digits", split="test")
    assert len(train) + len(test) == len(reference.target)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 8, 8)
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) == set(range(10))
    assert sorted(train.labels.tolist() + test.labels.tolist()) == sorted(reference.target.tolist())
    assert "digits" in list_datasets() and "fashion-mnist" in list_datasets()


def test_make_loaders_batches_are_normalised_floats():
    bundle = make_loaders("digits", batch_size=50, val_fraction=0.2, seed=3)
    images, labels = next(iter(bundle.train))
    assert images.shape == (50, 1, 8, 8) and images.dtype == torch.float32
    assert labels.shape == (50,) and labels.dtype == torch.int64
    assert (bundle.num_classes, bundle.in_chans, bundle.image_size) == (10, 1, (8, 8))
    every = torch.cat([x for x, _ in bundle.train])
    # normalised with the train split's statistics: close to zero mean / unit std on it
    assert abs(every.mean().item()) < 0.05 and abs(every.std().item() - 1.0) < 0.05


def test_image_size_and_channel_repeat():
    bundle = make_loaders("digits", batch_size=16, image_size=32, in_chans=3)
    images, _ = next(iter(bundle.test))
    assert images.shape[1:] == (3, 32, 32) and images.shape[0] == bundle.test.batch_size
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    assert bundle.input_size == (3, 32, 32)


def test_split_is_deterministic_and_disjoint():
    a_train, a_val = split_indices(1000, 0.1, seed=7)
    b_train, b_val = split_indices(1000, 0.1, seed=7)
    c_train, c_val = split_indices(1000, 0.1, seed=8)
    assert torch.equal(a_val, b_val) and torch.equal(a_train, b_train)
    assert not torch.equal(a_val, c_val)
    assert len(a_val) == 100 and sorted(torch.cat([a_train, a_val]).tolist()) == list(range(1000))

    first = make_loaders("digits", batch_size=32, seed=5)
    second = make_loaders("digits", batch_size=32, seed=5)
    assert torch.equal(first.val.dataset.labels, second.val.dataset.labels)
    assert torch.equal(next(iter(first.train))[0], next(iter(second.train))[0])


def test_epoch_order_depends_only_on_seed_and_epoch():
    loader = make_loaders("digits", batch_size=32, seed=1).train
    loader.set_epoch(3)
    order = loader.indices()
    other = make_loaders("digits", batch_size=32, seed=1).train
    other.set_epoch(2)
    assert not torch.equal(order, other.indices())
    other.set_epoch(3)
    assert torch.equal(order, other.indices())


def test_limits_keep_that_many_samples():
    bundle = make_loaders("digits", batch_size=10, limit_train=100, limit_val=20, limit_test=30)
    assert (len(bundle.train.dataset), len(bundle.val.dataset), len(bundle.test.dataset)) == (100, 20, 30)
    assert len(bundle.train) == 10


@settings(max_examples=25)
@given(n=st.integers(1, 500), fraction=st.floats(0.0, 0.95), seed=st.integers(0, 2**31))
def test_split_partitions_the_indices(n, fraction, seed):
    train, val = split_indices(n, fraction, seed)
    assert len(val) == int(round(fraction * n))
    assert sorted(torch.cat([train, val]).tolist()) == list(range(n))
