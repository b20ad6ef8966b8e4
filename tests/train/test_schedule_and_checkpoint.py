"""The learning-rate schedule against torch's own schedulers; atomic checkpoint writes."""

from __future__ import annotations

import os

import pytest
import torch

from cnnlab.train import TrainConfig
from cnnlab.train import checkpoint as checkpoint_module
from cnnlab.train.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from cnnlab.train.optim import build_scheduler


def _lrs(scheduler, steps):
    values = []
    for _ in range(steps):
        values.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return values


def test_cosine_matches_torch_cosine_annealing():
    params = [torch.nn.Parameter(torch.zeros(1))]
    ours = build_scheduler(torch.optim.SGD(params, lr=0.1), TrainConfig(epochs=3, lr=0.1, min_lr=0.01), 7)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.SGD(params, lr=0.1), T_max=21, eta_min=0.01)
    assert _lrs(ours, 21) == pytest.approx(_lrs(reference, 21), rel=1e-9)


def test_warmup_matches_torch_linear_then_cosine():
    params = [torch.nn.Parameter(torch.zeros(1))]
    ours = build_scheduler(torch.optim.SGD(params, lr=0.2), TrainConfig(epochs=4, lr=0.2, warmup_epochs=1), 5)
    optimizer = torch.optim.SGD(params, lr=0.2)
    reference = torch.optim.lr_scheduler.SequentialLR(
        optimizer,
        [torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / 5, total_iters=4),
         torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=15)],
        milestones=[5],
    )  # fmt: skip
    assert _lrs(ours, 20) == pytest.approx(_lrs(reference, 20), rel=1e-9)


def test_interrupted_save_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.ones(3)})

    def broken_save(obj, target):
        target.write(b"partial bytes")  # save_checkpoint hands torch.save an open file
        raise KeyboardInterrupt  # the user hits Ctrl-C in the middle of the write

    monkeypatch.setattr(checkpoint_module.torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2, "weights": torch.zeros(3)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["checkpoint.pt"]
    assert load_checkpoint(path)["epoch"] == 1


def test_rng_state_round_trip(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    save_checkpoint(tmp_path / "rng.pt", {"rng": capture_rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]
