"""Sharding of the in-memory loader follows torch.utils.data.DistributedSampler's scheme."""

from __future__ import annotations

import torch

from cnnlab.data import BatchTransform, ImageTensors, TensorLoader


def _loader(n: int, shuffle: bool) -> TensorLoader:
    data = ImageTensors(
        images=torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1),
        labels=torch.arange(n),
        num_classes=n,
        name="counting",
        split="train",
        mean=(0.0,),
        std=(1.0 / 255.0,),  # the float image then equals the index
    )
    transform = BatchTransform((0.0,), (1.0 / 255.0,), (1, 1), (1, 1), 1, 1)
    return TensorLoader(data, batch_size=4, transform=transform, shuffle=shuffle, seed=0)


def test_training_shards_match_distributed_sampler():
    loader = _loader(11, shuffle=True)
    loader.set_epoch(2)
    for rank in range(3):
        reference = torch.utils.data.DistributedSampler(
            range(11), num_replicas=3, rank=rank, shuffle=True, seed=0
        )
        reference.set_epoch(2)
        shard = loader.shard(rank, 3)
        labels = torch.cat([y for _, y in shard]).tolist()
        assert labels == list(reference)


def test_evaluation_shards_are_disjoint_and_complete():
    loader = _loader(10, shuffle=False)
    seen = []
    for rank in range(3):
        for images, labels in loader.shard(rank, 3):
            assert torch.equal(images.view(-1).round().long(), labels)
            seen += labels.tolist()
    assert sorted(seen) == list(range(10))


def test_single_sample_last_training_batch_is_dropped():
    loader = _loader(9, shuffle=True)  # 4 + 4 + 1
    assert len(loader) == 2 and [len(y) for _, y in loader] == [4, 4]
    assert len(_loader(9, shuffle=False)) == 3
