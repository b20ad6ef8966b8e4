"""The weights' EMA (cnnlab.train.ema) equals the average computed by hand, and rides on the optimizer's
state dict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.train.ema import STATE_KEY, WeightEma, attach_ema, ema_decay_at


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 3, generator=gen)
    optimizer.zero_grad()
    model(x).square().mean().backward()
    optimizer.step()


def test_decay_ramp_literal_values():
    # min(decay, (1 + t) / (10 + t)): TensorFlow's ExponentialMovingAverage with num_updates
    assert ema_decay_at(0.99, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.99, 1) == pytest.approx(2 / 11)
    assert ema_decay_at(0.99, 10_000) == 0.99


def test_two_steps_equal_the_hand_computed_average():
    model = _net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    ema = WeightEma(model, decay=0.9).attach(optimizer, model)
    w0 = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, optimizer, 1)
    w1 = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, optimizer, 2)
    w2 = model.state_dict()
    d0, d1 = min(0.9, 1 / 10), min(0.9, 2 / 11)
    for key, average in ema.module.state_dict().items():
        if key.endswith("num_batches_tracked"):
            assert average == w2[key] == 2
            continue
        expected = d1 * (d0 * w0[key] + (1 - d0) * w1[key]) + (1 - d1) * w2[key]
        torch.testing.assert_close(average, expected, rtol=1e-6, atol=1e-7)
        if not torch.equal(w1[key], w2[key]):  # the first Linear's bias feeds BatchNorm: its gradient is ~0
            assert not torch.equal(average, w2[key])
    assert ema.updates == 2
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_the_average_is_saved_and_restored_with_the_optimizer():
    model = _net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    ema = WeightEma(model, 0.9).attach(optimizer, model)
    _step(model, optimizer, 1)
    saved = optimizer.state_dict()
    assert saved[STATE_KEY]["updates"] == 1
    other_model = _net()
    other_optimizer = torch.optim.SGD(other_model.parameters(), lr=0.5)
    other = WeightEma(other_model, 0.9).attach(other_optimizer, other_model)
    other_optimizer.load_state_dict(saved)
    assert other.updates == 1
    for a, b in zip(ema.module.state_dict().values(), other.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_no_ema_without_a_decay():
    model = _net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert attach_ema(model, optimizer, type("C", (), {"ema_decay": 0.0})()) is None
    assert STATE_KEY not in optimizer.state_dict()


def test_a_checkpoint_of_an_ema_run_gives_the_average_it_reported(tmp_path, make_tiny_net):
    # the run's test accuracy is the EMA's; export/create_model(weights=...) read the checkpoint through
    # read_state_dict, so they must get those weights, not the last raw ones
    from cnnlab.data import make_loaders
    from cnnlab.nets.weights import read_state_dict
    from cnnlab.train import TrainConfig, fit

    bundle = make_loaders("digits", 32, image_size=8, limit_train=128, limit_val=64, limit_test=64)
    torch.manual_seed(3)
    config = TrainConfig(epochs=2, batch_size=32, lr=0.05, seed=3, device="cpu", ema_decay=0.9, precise_bn_batches=0)
    result = fit(make_tiny_net(), bundle, config, out_dir=tmp_path, progress=False)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state = read_state_dict(tmp_path / "checkpoint.pt")
    assert checkpoint["state_dict"].keys() == checkpoint["model"].keys()
    for key, value in checkpoint["optimizer"][STATE_KEY]["module"].items():
        assert torch.equal(state[key], value), key
    assert any(not torch.equal(state[k], v) for k, v in checkpoint["model"].items() if v.is_floating_point())
    model = make_tiny_net()
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(x).argmax(1) == y).sum()) for x, y in bundle.test)
    accuracy = hits / len(bundle.test.dataset)
    assert accuracy == pytest.approx(result.test_acc / 100.0 if result.test_acc > 1.0 else result.test_acc)
    # without an EMA the checkpoint's model weights are read, as before
    fit(make_tiny_net(), bundle, TrainConfig(epochs=1, batch_size=32, seed=3, device="cpu"), out_dir=tmp_path / "raw",
        progress=False)
    raw = torch.load(tmp_path / "raw" / "checkpoint.pt", weights_only=True)
    assert "state_dict" not in raw
    assert all(torch.equal(read_state_dict(tmp_path / "raw" / "checkpoint.pt")[k], v) for k, v in raw["model"].items())
