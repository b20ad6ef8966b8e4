"""fit / evaluate on scikit-learn digits: learning, exact resumption, run files, config checks."""

from __future__ import annotations

import json
import math

import pytest
import torch

from cnnlab.data import make_loaders
from cnnlab.errors import ConfigError
from cnnlab.train import TrainConfig, evaluate, fit

pytest.importorskip("sklearn")

METRIC_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


@pytest.fixture(scope="module")
def digits():
    return make_loaders("digits", batch_size=64, val_fraction=0.1, seed=0)


def test_small_net_learns_digits(digits, tmp_path, make_tiny_net):
    torch.manual_seed(0)
    model = make_tiny_net()
    config = TrainConfig(epochs=6, batch_size=64, lr=0.1, seed=0)
    result = fit(model, digits, config, out_dir=tmp_path, progress=False)
    # chance is 0.1 on ten balanced classes
    assert result.best_val_acc >= 0.8 and result.test_acc >= 0.8
    assert result.test_acc == pytest.approx(evaluate(model, digits.test))
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == list(range(1, 7))
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["test_acc"] == pytest.approx(result.test_acc)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 6 and checkpoint["config"]["lr"] == 0.1
    assert result.images_per_second > 0 and math.isclose(result.history[-1]["lr"], 0.0, abs_tol=1e-12)


def test_evaluate_matches_a_direct_count(digits, make_tiny_net):
    torch.manual_seed(1)
    model = make_tiny_net().eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in digits.val:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    assert evaluate(model, digits.val) == pytest.approx(correct / total)


class _Interrupt(Exception):
    pass


def _stop_after_first(epoch, record):
    if epoch == 1:
        raise _Interrupt


def test_resume_gives_the_uninterrupted_result(digits, tmp_path, make_tiny_net):
    config = TrainConfig(epochs=2, batch_size=64, lr=0.05, optimizer="adamw", warmup_epochs=0.5,
                         label_smoothing=0.1, seed=3)  # fmt: skip
    torch.manual_seed(11)
    straight_model = make_tiny_net()
    straight = fit(straight_model, digits, config, out_dir=tmp_path / "straight", progress=False)

    torch.manual_seed(11)
    with pytest.raises(_Interrupt):
        fit(make_tiny_net(), digits, config, out_dir=tmp_path / "split", progress=False, on_epoch_end=_stop_after_first)
    torch.manual_seed(99)  # the resumed run must not depend on the caller's RNG or fresh weights
    resumed_model = make_tiny_net()
    resumed = fit(resumed_model, digits, config, out_dir=tmp_path / "split", resume=True, progress=False)

    assert len(resumed.history) == 2
    for a, b in zip(straight.history, resumed.history, strict=True):
        for key in METRIC_KEYS:
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9), key
    for (name, a), (_, b) in zip(straight_model.state_dict().items(), resumed_model.state_dict().items(), strict=True):
        assert torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-7), name
    assert resumed.test_acc == pytest.approx(straight.test_acc)
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_resume_refuses_another_config(digits, tmp_path, make_tiny_net):
    config = TrainConfig(epochs=1, batch_size=64, lr=0.05)
    fit(make_tiny_net(), digits, config, out_dir=tmp_path, progress=False)
    changed = TrainConfig(epochs=1, batch_size=64, lr=0.02, weight_decay=0.0)
    with pytest.raises(ConfigError, match="lr.*weight_decay"):
        fit(make_tiny_net(), digits, changed, out_dir=tmp_path, resume=True, progress=False)


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="label_smoothing"):
        TrainConfig(label_smoothing=1.5)
    assert TrainConfig(amp=False).amp == "off"


def test_fp16_on_cpu_is_refused(digits, make_tiny_net):
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine supports fp16")
    with pytest.raises(ConfigError, match="fp16"):
        fit(make_tiny_net(), digits, TrainConfig(epochs=1, amp="fp16", device="cpu"), progress=False)


def test_bf16_autocast_and_channels_last_on_cpu(digits, make_tiny_net):
    model = make_tiny_net()
    config = TrainConfig(epochs=1, batch_size=64, amp="bf16", channels_last=True, device="cpu")
    result = fit(model, digits, config, progress=False)
    assert math.isfinite(result.history[0]["train_loss"]) and result.device == "cpu"
    assert next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
