"""Training recipes (cnnlab.train.recipes) and their pieces: determinism of a recipe run, the loss is torch's
label-smoothed cross-entropy, flip TTA is the mean of two logits, the one-cycle schedule, bad input."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from cnnlab.data import make_loaders
from cnnlab.errors import ConfigError
from cnnlab.train import TrainConfig, fit
from cnnlab.train.device import resolve_runtime
from cnnlab.train.distributed import DistContext
from cnnlab.train.epoch import train_one_epoch
from cnnlab.train.evaluate import FlipTTA
from cnnlab.train.optim import lr_factor
from cnnlab.train.progress import EpochProgress
from cnnlab.train.recipes import FREE_FIELDS, RECIPES, recipe_config


@pytest.fixture(scope="module")
def digits():
    return make_loaders("digits", 32, image_size=8, limit_train=128, limit_val=64, limit_test=64)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_same_seed_gives_identical_metrics_twice(name, digits, make_tiny_net):
    config = recipe_config(name, epochs=2, batch_size=32, seed=7, device="cpu")
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        result = fit(make_tiny_net(), digits, config, progress=False)
        runs.append(([(h["train_loss"], h["val_acc"], h["val_loss"]) for h in result.history], result.test_acc))
    assert runs[0] == runs[1]
    assert all(math.isfinite(loss) for loss, _, _ in runs[0][0])


def test_fast_recipe_has_every_trick(digits):
    config = recipe_config("fast", device="cpu")
    assert (config.nesterov, config.schedule, config.tta_flip, config.hflip) == (True, "onecycle", True, True)
    assert config.ema_decay > 0 and config.label_smoothing > 0 and config.crop_padding > 0
    assert config.resize_schedule[0][1] < config.resize_schedule[-1][1] == 1.0
    # linear scaling rule (Goyal et al. 2017): half the batch, half the learning rate
    assert recipe_config("fast", batch_size=256).lr == pytest.approx(config.lr / 2)


def test_training_loss_is_torch_label_smoothed_cross_entropy(make_tiny_net):
    """The loss train_one_epoch reports for one batch (taken before the step) is torch's
    CrossEntropyLoss(label_smoothing=0.3) of the same network on the same batch."""
    bundle = make_loaders("digits", 64, image_size=8, limit_train=64, val_fraction=0.0)
    config = TrainConfig(epochs=1, batch_size=64, label_smoothing=0.3, device="cpu", channels_last=False)
    model = make_tiny_net()
    model[8].p = 0.0  # no dropout: both forwards see the same network
    twin = copy.deepcopy(model)
    images, labels = next(iter(bundle.train))
    reference = nn.CrossEntropyLoss(label_smoothing=0.3)(twin(images), labels).item()
    plain = nn.CrossEntropyLoss()(twin(images), labels).item()
    runtime = resolve_runtime("cpu", "off", False)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    with EpochProgress(False, 1) as bar:
        out = train_one_epoch(model, bundle.train, optimizer, scheduler, runtime.scaler(), runtime, config,
                              DistContext(), bar)  # fmt: skip
    assert out["train_loss"] == pytest.approx(reference, rel=1e-6)
    assert abs(out["train_loss"] - plain) > 1e-3


def test_flip_tta_is_the_mean_of_the_two_logits(make_tiny_net):
    net = make_tiny_net().eval()
    x = torch.randn(5, 1, 8, 8)
    expected = (net(x) + net(torch.flip(x, dims=[3]))) / 2
    torch.testing.assert_close(FlipTTA(net)(x), expected)
    assert not torch.allclose(FlipTTA(net)(x), net(x))


def test_one_cycle_schedule_literal_values():
    # warm-up 10 steps to the peak, then a straight line to min_factor at step 110
    assert lr_factor(0, 110, 10, "onecycle", 0.0) == pytest.approx(0.1)
    assert lr_factor(9, 110, 10, "onecycle", 0.0) == pytest.approx(1.0)
    assert lr_factor(60, 110, 10, "onecycle", 0.0) == pytest.approx(0.5)
    assert lr_factor(110, 110, 10, "onecycle", 0.2) == pytest.approx(0.2)


def test_recipe_schedule_follows_the_epochs():
    assert recipe_config("fast", epochs=8).resize_schedule == ((1, 0.5), (3, 0.75), (5, 1.0))
    assert recipe_config("fast", epochs=4).resize_schedule == ((1, 0.5), (2, 0.75), (3, 1.0))
    assert recipe_config("fast", epochs=1).resize_schedule == ((1, 1.0),)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "quick"}, "unknown recipe 'quick'"),
    ({"name": "fast", "lr": 0.3}, "fast fixes lr .given lr=0.3"),
    ({"name": "converged", "optimizer": "adamw", "label_smoothing": 0.0}, "fixes label_smoothing, optimizer"),
    ({"name": "fast", "epochs": 0}, "epochs must be at least 1, got 0"),
    ({"name": "converged", "epochs": -3}, "epochs must be at least 1, got -3"),
])  # fmt: skip
def test_bad_recipe_input_is_a_config_error_naming_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        recipe_config(**kwargs)


@pytest.mark.parametrize("field, value, match", [
    ("ema_decay", 1.0, "ema_decay must be"), ("crop_padding", -1, "crop_padding must be"),
    ("resize_schedule", ((2, 0.5), (1, 1.0)), "must rise"), ("resize_schedule", ((1, 1.5),), "scale must be"),
    ("schedule", "triangle", "schedule must be one of"), ("tta_flip", "yes", "tta_flip must be one of"),
])  # fmt: skip
def test_trick_fields_are_checked(field, value, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**{field: value})


def test_free_fields_are_train_config_fields():
    assert set(FREE_FIELDS) <= set(TrainConfig().to_dict())
