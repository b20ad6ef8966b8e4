"""``cnnlab train``: a run on digits with a zoo network; a re-run never throws work away; every bad value
or unusable --out is one ``error:`` line with exit status 2, before anything is trained."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

import cnnlab.timing
from cnnlab.cli.main import app

pytest.importorskip("sklearn")
MODEL = "randwire_tiny"  # the zoo's smallest network (18k parameters): a run takes seconds
TIMING_KEYS = {"images_per_second", "train_seconds", "train_cpu_seconds", "epoch_seconds"}


def _args(out, *extra, model=MODEL):
    return ["train", model, "--data", "digits", "--epochs", "1", "--batch-size", "32", "--limit-train", "64",
            "--limit-val", "32", "--limit-test", "64", "--out", str(out), "--no-progress", *extra]  # fmt: skip


def _invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _clean_error(done, *words):
    assert done.exit_code == 2, done.output
    assert "error:" in done.output and "Traceback" not in done.output, done.output
    for word in words:
        assert word in done.output, (word, done.output)


def _metrics(folder):
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
            for line in (folder / "metrics.jsonl").read_text().splitlines()]  # fmt: skip


def test_train_command_writes_a_run_folder(tmp_path):
    model = "resnet18_a"  # the lecture's small-input ResNet-18 from the zoo
    out = tmp_path / "run"
    args = ["train", model, "--data", "digits", "--epochs", "1", "--batch-size", "32", "--limit-train", "64",
            "--limit-test", "64", "--val-fraction", "0.02", "--out", str(out), "--no-progress"]  # fmt: skip
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "run folder" in done.output and str(out) in done.output.replace("\n", "")
    result = json.loads((out / "result.json").read_text())
    assert result["epochs"] == 1 and 0.0 <= result["test_acc"] <= 1.0
    resumed = CliRunner().invoke(app, [*args, "--resume"])  # already finished: says so, trains nothing
    assert resumed.exit_code == 0, resumed.output
    assert "already trained" in resumed.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1


def test_missing_dataset_is_one_clean_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    done = CliRunner().invoke(app, ["train", "resnet18", "--data", "cifar10", "--data-root", str(tmp_path)])
    assert done.exit_code == 2
    assert "error:" in done.output and "Traceback" not in done.output and "cifar-10-python" in done.output


def test_a_rerun_without_resume_keeps_the_finished_run(tmp_path):
    out = tmp_path / "run"
    assert _invoke(_args(out)).exit_code == 0
    before = (out / "checkpoint.pt").stat().st_mtime_ns, _metrics(out)
    again = _invoke(_args(out))
    assert again.exit_code == 0 and "already trained (1 epochs), nothing retrained" in again.output
    assert ((out / "checkpoint.pt").stat().st_mtime_ns, _metrics(out)) == before


def test_another_model_in_a_finished_run_folder_is_refused_until_overwrite(tmp_path):
    out = tmp_path / "run"
    assert _invoke(_args(out)).exit_code == 0
    before = (out / "checkpoint.pt").read_bytes()
    refused = _invoke(_args(out, "--lr", "0.01", model="resnet18_a"))
    _clean_error(refused, "model: run 'randwire_tiny', now 'resnet18_a'", "lr: run 0.05, now 0.01", "--overwrite")
    assert (out / "checkpoint.pt").read_bytes() == before
    replaced = _invoke(_args(out, "--lr", "0.01", "--overwrite", model="resnet18_a"))
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "result.json").read_text())["config"]["lr"] == 0.01


def test_resume_with_no_checkpoint_says_so(tmp_path):
    _clean_error(_invoke(_args(tmp_path / "nothing-here", "--resume")), "nothing to resume", "checkpoint.pt")
    assert not (tmp_path / "nothing-here").exists()


@pytest.mark.parametrize("option, value, named", [
    ("--lr", "nan", "lr must be a finite number"),
    ("--lr", "inf", "lr must be a finite number"),
    ("--momentum", "nan", "momentum"),
    ("--weight-decay", "-inf", "weight_decay"),
    ("--label-smoothing", "nan", "label_smoothing"),
    ("--warmup-epochs", "inf", "warmup_epochs"),
    ("--image-size", "0", "image_size must be between 1 and 4096"),
    ("--image-size", "100000", "image_size must be between 1 and 4096"),
    ("--seed", str(2**64), "seed must be an integer in [0, 2**32 - 1]"),
    ("--seed", "-1", "seed"),
    ("--limit-val", "0", "limit_val"),
    ("--val-fraction", "nan", "val_fraction"),
])  # fmt: skip
def test_bad_values_are_one_error_line_and_nothing_is_written(tmp_path, option, value, named):
    out = tmp_path / "run"
    _clean_error(_invoke(_args(out, option, value)), named)
    assert not (out / "metrics.jsonl").exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    _clean_error(_invoke(_args(tmp_path / "taken")), "is an existing file, not a folder")
    _clean_error(_invoke(_args(tmp_path / "taken" / "run")), "is a file, not a folder")


def test_out_on_a_read_only_file_system_is_refused(read_only_folder):
    _clean_error(_invoke(_args(read_only_folder / "run")), "cannot write --out", "is not writable")


def test_out_on_a_full_disk_is_refused_before_training(mounts):
    full = mounts(32)  # room for config.json, not for a checkpoint
    done = _invoke(_args(full / "run"))
    _clean_error(done, "MiB free", "a checkpoint of this model needs about")
    assert not (full / "run" / "metrics.jsonl").read_text()  # no epoch was trained


def test_limit_val_validates_on_that_many_images(tmp_path):
    out = tmp_path / "run"
    assert _invoke(_args(out, "--limit-val", "16")).exit_code == 0
    assert json.loads((out / "config.json").read_text())["identity"]["val_images"] == 16


class _NoisyClock:
    def __init__(self, seed: int) -> None:
        self._rng, self._now = random.Random(seed), 0.0

    def perf_counter(self) -> float:
        self._now += self._rng.uniform(0.06, 0.2)
        return self._now


def test_the_same_command_twice_gives_the_same_numbers(tmp_path, monkeypatch):
    runs = []
    for clock_seed in (1, 5):  # two different noisy clocks (see tests/train/test_layout.py)
        monkeypatch.setattr(cnnlab.timing, "time", _NoisyClock(clock_seed))
        out = tmp_path / f"run{clock_seed}"
        assert _invoke(_args(out, "--epochs", "2")).exit_code == 0
        runs.append((_metrics(out), json.loads((out / "result.json").read_text())))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1]["test_acc"] == runs[1][1]["test_acc"]
