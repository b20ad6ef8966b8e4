"""``cnnlab compare`` under hostile input: the same numbers twice, dataset facts without reading the data,
the layout and the validation share as options, sane thread counts, and every unusable --out one
``error:`` line with exit status 2."""

from __future__ import annotations

import json
import os
import random

import pytest
import torch
from typer.testing import CliRunner

import cnnlab.timing
from cnnlab.cli.main import app
from cnnlab.compare import CompareConfig, LatencySettings, run_compare
from cnnlab.compare.latency import measure_latency
from cnnlab.compare.training import BUDGET_FILE, RESULT_FILE, TrainBudget, load_finished
from cnnlab.errors import ConfigError
from cnnlab.timing import median_seconds, pinned_threads

runner = CliRunner()


def _config(out, quick_latency, **overrides) -> CompareConfig:
    values = dict(out=out, data="digits", image_size=8, train=True, epochs=1, batch_size=32, limit_train=128,
                  limit_eval=64, latency=quick_latency, progress=False)  # fmt: skip
    values.update(overrides)
    return CompareConfig(**values)


def _no_train_args(out, *extra):
    return ["compare", "resnet18", "--no-train", "--data", "digits", "--image-size", "16", "--repeats", "1",
            "--out", str(out), *extra]  # fmt: skip


def _clean_error(done, *words):
    assert done.exit_code == 2, done.output
    assert "error:" in done.output and "Traceback" not in done.output, done.output
    for word in words:
        assert word in done.output, (word, done.output)


class _NoisyClock:
    """Stands in for ``cnnlab.timing``'s ``time`` module: each reading jumps by a random 60-200 ms."""

    def __init__(self, seed: int) -> None:
        self._rng, self._now = random.Random(seed), 0.0

    def perf_counter(self) -> float:
        self._now += self._rng.uniform(0.06, 0.2)
        return self._now


class _SteadyClock:
    def __init__(self, step_s: float) -> None:
        self._step, self._now = step_s, 0.0

    def perf_counter(self) -> float:
        self._now += self._step
        return self._now


TIMING_KEYS = {"images_per_second", "train_seconds", "train_cpu_seconds", "epoch_seconds"}


def _trained(out, name):
    """A model's training record: every epoch's losses and accuracies (not its timings) and the layout."""
    run = out / "runs" / name
    epochs = [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
              for line in (run / "metrics.jsonl").read_text().splitlines()]  # fmt: skip
    return epochs, json.loads((run / "result.json").read_text())["channels_last"]


def test_the_same_comparison_twice_gives_the_same_numbers(tmp_path, tiny_specs, quick_latency, monkeypatch):
    runs = []
    for clock_seed in (1, 5):  # two noisy clocks: the old measured layout took NCHW, then channels_last
        monkeypatch.setattr(cnnlab.timing, "time", _NoisyClock(clock_seed))
        out = tmp_path / f"cmp{clock_seed}"
        result = run_compare(tiny_specs, _config(out, quick_latency, epochs=2))
        runs.append(([(r.model, r.val_top1, r.test_top1) for r in result.rows],
                     [_trained(out, spec.name) for spec in tiny_specs]))  # fmt: skip
    assert runs[0] == runs[1]


def test_no_train_reads_no_image(tmp_path, tiny_specs, quick_latency, monkeypatch):
    import cnnlab.data.catalog

    def must_not_read(*args, **kwargs):
        raise AssertionError("a compute-only comparison needs the dataset's facts, not its images")

    monkeypatch.setattr(cnnlab.data.catalog, "get_dataset", must_not_read)
    monkeypatch.setattr(cnnlab.data, "get_dataset", must_not_read)
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "empty"))  # CIFAR-100 is not on disk either
    config = CompareConfig(out=tmp_path, data="cifar100", image_size=None, train=False, latency=quick_latency,
                           progress=False)  # fmt: skip
    row = run_compare(tiny_specs[1:], config).rows[0]
    assert row.input_shape == "3x32x32"
    assert row.params == sum(p.numel() for p in tiny_specs[1].build(100, 3).parameters())


def test_layout_and_validation_share_are_part_of_the_budget(tmp_path, tiny_specs, quick_latency):
    config = _config(tmp_path, quick_latency, channels_last=False, limit_val=16)
    run_compare(tiny_specs[:1], config)
    run_dir = tmp_path / "runs" / tiny_specs[0].name
    budget = json.loads((run_dir / BUDGET_FILE).read_text())
    assert budget["channels_last"] is False and budget["limit_val"] == 16
    trained = json.loads((run_dir / "result.json").read_text())
    assert trained["channels_last"] is False
    assert json.loads((run_dir / "config.json").read_text())["identity"]["val_images"] == 16
    with pytest.raises(ConfigError, match="different training budget.*channels_last"):
        run_compare(tiny_specs[:1], _config(tmp_path, quick_latency, channels_last=True, limit_val=16))


def test_a_budget_file_from_before_the_new_options_still_matches(tmp_path):
    budget = TrainBudget(data="digits", image_size=(8, 8), in_chans=1, epochs=1, batch_size=32, limit_train=128,
                         limit_eval=64)  # fmt: skip
    older = {k: v for k, v in budget.to_json().items() if k not in ("limit_val", "channels_last")}
    (tmp_path / BUDGET_FILE).write_text(json.dumps(older))
    (tmp_path / RESULT_FILE).write_text(json.dumps({"epochs": 1, "train_images": 128, "val_top1": 50.0,
                                                    "test_top1": 40.0, "images_per_second": 10.0}))  # fmt: skip
    assert load_finished(tmp_path, budget).test_top1 == 40.0


@pytest.mark.parametrize("threads", [0, (os.cpu_count() or 1) + 1, 10_000])
def test_threads_beyond_the_machine_are_refused(threads):
    with pytest.raises(ConfigError, match="threads must be between 1 and the"):
        LatencySettings(threads=threads)


def test_cli_refuses_10000_threads(tmp_path):
    _clean_error(runner.invoke(app, _no_train_args(tmp_path, "--threads", "10000")), "threads", "logical CPUs")


@pytest.mark.parametrize("option, value, named", [
    ("--image-size", "0", "image_size must be between 1 and 4096"),
    ("--image-size", "100000", "image_size must be between 1 and 4096"),
    ("--seed", str(2**64), "seed must be an integer"),
    ("--repeats", "0", "repeats"),
])  # fmt: skip
def test_cli_bad_values_are_one_error_line(tmp_path, option, value, named):
    _clean_error(runner.invoke(app, _no_train_args(tmp_path / "out", option, value)), named)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, value, named", [
    ("--lr", "nan", "lr must be a finite number"),
    ("--limit-val", "0", "limit_val"),
    ("--epochs", "0", "epochs"),
])  # fmt: skip
def test_cli_bad_training_values_are_one_error_line(tmp_path, option, value, named):
    args = ["compare", "resnet18", "--data", "digits", "--out", str(tmp_path / "out"), option, value]
    _clean_error(runner.invoke(app, args), named)
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    _clean_error(runner.invoke(app, _no_train_args(tmp_path / "taken")), "is an existing file, not a folder")


def test_out_on_a_read_only_file_system_is_refused(read_only_folder):
    _clean_error(runner.invoke(app, _no_train_args(read_only_folder / "cmp")), "cannot write --out", "not writable")


def test_out_on_a_full_disk_is_refused(mounts):
    full = mounts(48)  # room for the tables, not for the chart
    _clean_error(runner.invoke(app, _no_train_args(full / "cmp")), "cannot write", "No space left on device")
    assert not [p for p in (full / "cmp").iterdir() if p.name.endswith(".tmp")]  # no torn temp file left


def test_latency_is_timed_by_the_one_clock(monkeypatch):
    monkeypatch.setattr(cnnlab.timing, "time", _SteadyClock(0.25))
    result = measure_latency(torch.nn.Identity(), (1, 3), warmup=1, repeats=3, threads=1)
    assert result.median_ms == pytest.approx(250.0) and result.min_ms == pytest.approx(250.0)


@pytest.mark.parametrize("call, named", [
    (lambda: median_seconds(lambda: None, repeats=0), "median_seconds: repeats must be ≥ 1 and warmup ≥ 0, got "
                                                      "repeats=0, warmup=1"),
    (lambda: median_seconds(lambda: None, warmup=-1), "got repeats=5, warmup=-1"),
    (lambda: median_seconds(lambda: None, repeats=2.5), "repeats must be an integer"),
    (lambda: pinned_threads(10_000).__enter__(), "threads must be between 1 and the"),
    (lambda: measure_latency(torch.nn.Identity(), (1, 3), repeats=0), "latency: repeats"),
])  # fmt: skip
def test_timing_refuses_bad_arguments_with_config_errors(call, named):
    with pytest.raises(ConfigError, match=named):
        call()
