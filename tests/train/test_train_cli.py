"""``cnnlab train``: a run on digits with a zoo network, and the one-line error of a missing dataset."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnnlab.cli.main import app

pytest.importorskip("sklearn")


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
    resumed = CliRunner().invoke(app, [*args, "--resume"])  # already finished: evaluates and reports
    assert resumed.exit_code == 0, resumed.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1


def test_missing_dataset_is_one_clean_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    done = CliRunner().invoke(app, ["train", "resnet18", "--data", "cifar10", "--data-root", str(tmp_path)])
    assert done.exit_code == 2
    assert "error:" in done.output and "Traceback" not in done.output and "cifar-10-python" in done.output
