"""The CPU layout rule: read from the network, never from a clock, so the same seed gives the same numbers;
recorded in the result and the checkpoint, and kept on resume."""

from __future__ import annotations

import importlib
import random

import pytest
import torch
from torch import nn

import cnnlab.timing
from cnnlab.data import make_loaders
from cnnlab.train import TrainConfig, fit
from cnnlab.train.layout import choose_channels_last

pytest.importorskip("sklearn")
FIT_MODULE = importlib.import_module("cnnlab.train.fit")  # the module, not the function of that name
TIMING_KEYS = {"images_per_second", "train_seconds", "train_cpu_seconds", "epoch_seconds"}


@pytest.fixture(scope="module")
def digits():
    return make_loaders("digits", batch_size=64, val_fraction=0.1, seed=0)


class NoisyClock:
    """Stands in for the ``time`` module of ``cnnlab.timing``: every reading jumps by a random 60-200 ms,
    as on a machine where other jobs come and go."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._now = 0.0

    def perf_counter(self) -> float:
        self._now += self._rng.uniform(0.06, 0.2)
        return self._now


def without_timings(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in history]


def test_a_convolutional_network_trains_channels_last():
    choice = choose_channels_last(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), torch.randn(2, 1, 8, 8))
    assert choice.channels_last and "channels_last" in choice.reason


@pytest.mark.parametrize("model, images, reason", [
    (nn.Linear(4, 2), torch.randn(3, 4), "not an image batch"),
    (nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), torch.randn(3, 1, 8, 8), "no 2-D convolution"),
])  # fmt: skip
def test_no_convolution_or_no_image_keeps_nchw(model, images, reason):
    choice = choose_channels_last(model, images)
    assert not choice.channels_last and reason in choice.reason


def test_the_same_seed_gives_the_same_numbers_whatever_the_clock(digits, make_tiny_net, monkeypatch):
    """Under two different noisy clocks (the old default timed both layouts and took the faster one, so
    noise decided the layout and the layout the rounding) two runs of one config give the same numbers."""
    runs = []
    for clock_seed in (1, 5):  # under the old measured choice: NCHW, then channels_last
        monkeypatch.setattr(cnnlab.timing, "time", NoisyClock(clock_seed))
        torch.manual_seed(0)
        result = fit(make_tiny_net(), digits, TrainConfig(epochs=2, batch_size=64, lr=0.05, device="cpu"),
                     progress=False)  # fmt: skip
        runs.append(result)
    assert runs[0].channels_last == runs[1].channels_last
    assert without_timings(runs[0].history) == without_timings(runs[1].history)
    assert runs[0].test_acc == runs[1].test_acc


def test_fit_records_the_layout_and_a_resumed_run_keeps_it(digits, tmp_path, make_tiny_net, monkeypatch):
    config = TrainConfig(epochs=2, batch_size=64, lr=0.05, device="cpu")  # channels_last left to the rule
    model = make_tiny_net()
    first = fit(model, digits, config, out_dir=tmp_path, progress=False, on_epoch_end=lambda epoch, record: True)
    assert first.channels_last is True
    assert next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["channels_last"] is True

    def must_not_choose(model, images):
        raise AssertionError("a resumed run must take the layout from its checkpoint")

    monkeypatch.setattr(FIT_MODULE, "choose_channels_last", must_not_choose)
    resumed = fit(make_tiny_net(), digits, config, out_dir=tmp_path, progress=False)
    assert resumed.channels_last is True and resumed.resumed_epochs == 1 and len(resumed.history) == 2


def test_an_explicit_setting_overrides_the_rule(digits, make_tiny_net, monkeypatch):
    def must_not_choose(model, images):
        raise AssertionError("channels_last was set explicitly")

    monkeypatch.setattr(FIT_MODULE, "choose_channels_last", must_not_choose)
    model = make_tiny_net()
    result = fit(model, digits, TrainConfig(epochs=1, batch_size=64, channels_last=False, device="cpu"),
                 progress=False)  # fmt: skip
    assert result.channels_last is False and next(model.parameters()).is_contiguous()


def _strided_1x1(in_channels: int, stride: int = 2, kernel: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, in_channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(in_channels, 32, kernel, stride=stride, bias=False))  # fmt: skip


@pytest.mark.parametrize("in_channels", [1, 4, 7, 15])
def test_a_thin_strided_1x1_convolution_keeps_nchw(in_channels):
    """oneDNN's channels_last backward of such a conv crashes the process (cnnlab.train.layout's docstring)."""
    choice = choose_channels_last(_strided_1x1(in_channels), torch.randn(2, 1, 16, 16))
    assert not choice.channels_last
    assert "strided 1x1" in choice.reason and f"{in_channels} input channels" in choice.reason


@pytest.mark.parametrize("in_channels, stride, kernel", [(16, 2, 1), (64, 2, 1), (4, 1, 1), (4, 2, 3)])
def test_wide_unstrided_or_larger_kernels_stay_channels_last(in_channels, stride, kernel):
    assert choose_channels_last(_strided_1x1(in_channels, stride, kernel), torch.randn(2, 1, 16, 16)).channels_last


CRASH_SCRIPT = """
import torch
from torch import nn
from cnnlab.train.layout import choose_channels_last

torch.set_num_threads(1)
torch.manual_seed(0)
for cin in (3, 5):  # both abort in channels_last on torch 2.14.1's CPU build
    model = nn.Sequential(nn.Conv2d(cin, 32, 1, stride=2, bias=False))
    images = torch.randn(64, cin, 16, 16)
    if choose_channels_last(model, images).channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.to(memory_format=torch.channels_last)
    model(images.requires_grad_()).sum().backward()
    print("backward done", cin)
"""


def test_the_chosen_layout_survives_the_backward_pass():
    """In a child process (a crash kills the process, not an exception): the layout the rule picks runs the
    backward passes that abort in channels_last on torch 2.14.1's CPU build (NCHW, torch's default, runs them)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CRASH_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split("\n")[:2] == ["backward done 3", "backward done 5"], (
        done.returncode, done.stderr[-2000:])
