"""The CPU layout choice: measured on copies, leaves the model and the random stream alone, and is
recorded in the result and the checkpoint so that a resumed run keeps it."""

from __future__ import annotations

import importlib

import pytest
import torch

from cnnlab.data import make_loaders
from cnnlab.train import TrainConfig, fit
from cnnlab.train import layout as layout_module
from cnnlab.train.layout import choose_channels_last

pytest.importorskip("sklearn")
FIT_MODULE = importlib.import_module("cnnlab.train.fit")  # the module, not the function of that name


@pytest.fixture(scope="module")
def digits():
    return make_loaders("digits", batch_size=64, val_fraction=0.1, seed=0)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_tiny_step_keeps_nchw_without_touching_model_or_rng(make_tiny_net):
    model = make_tiny_net()
    images = torch.randn(8, 1, 8, 8)
    before, rng = _snapshot(model), torch.get_rng_state()
    choice = choose_channels_last(model, images)
    assert not choice.channels_last and choice.speedup is None and "too short" in choice.reason
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert next(model.parameters()).is_contiguous()


@pytest.mark.parametrize("min_speedup, expected", [(0.0, True), (float("inf"), False)])
def test_the_measured_ratio_decides(make_tiny_net, min_speedup, expected):
    model = make_tiny_net()  # BatchNorm buffers and dropout: the copies, not the model, are trained on
    images = torch.randn(16, 1, 8, 8)
    before, rng = _snapshot(model), torch.get_rng_state()
    choice = choose_channels_last(model, images, rounds=2, min_step_seconds=0.0,
                                  min_speedup=min_speedup)  # fmt: skip
    assert choice.channels_last is expected and choice.speedup > 0
    assert f"{choice.speedup:.2f}x" in choice.reason
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_non_image_input_keeps_nchw():
    choice = choose_channels_last(torch.nn.Linear(4, 2), torch.randn(3, 4))
    assert not choice.channels_last and choice.speedup is None


def test_fit_records_the_choice_and_a_resumed_run_keeps_it(digits, tmp_path, make_tiny_net, monkeypatch):
    always = layout_module.LayoutChoice(True, 1.5, "channels_last measured 1.50x per training step")
    monkeypatch.setattr(FIT_MODULE, "choose_channels_last", lambda model, images: always)
    config = TrainConfig(epochs=1, batch_size=64, lr=0.05, device="cpu")  # channels_last left open
    model = make_tiny_net()
    result = fit(model, digits, config, out_dir=tmp_path, progress=False)
    assert result.channels_last is True
    assert next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["channels_last"] is True

    def must_not_measure(model, images):
        raise AssertionError("a resumed run must take the layout from its checkpoint")

    monkeypatch.setattr(FIT_MODULE, "choose_channels_last", must_not_measure)
    longer = TrainConfig(epochs=1, batch_size=64, lr=0.05, device="cpu")
    resumed = fit(make_tiny_net(), digits, longer, out_dir=tmp_path, resume=True, progress=False)
    assert resumed.channels_last is True


def test_an_explicit_setting_is_not_measured(digits, make_tiny_net, monkeypatch):
    def must_not_measure(model, images):
        raise AssertionError("channels_last was set explicitly")

    monkeypatch.setattr(FIT_MODULE, "choose_channels_last", must_not_measure)
    result = fit(make_tiny_net(), digits, TrainConfig(epochs=1, batch_size=64, channels_last=False, device="cpu"),
                 progress=False)  # fmt: skip
    assert result.channels_last is False
