"""``cnnlab compare`` and ``cnnlab demo`` through the real command line app."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from cnnlab.cli.main import app

runner = CliRunner()


def test_compare_no_train(tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(
        app, ["compare", "resnet18", "mobilenet_v2", "--no-train", "--data", "digits", "--image-size", "16",
              "--out", str(out), "--repeats", "1"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    for name in ("comparison.csv", "comparison.md", "comparison.png", "comparison.svg", "report.html"):
        assert (out / name).is_file(), name
    with open(out / "comparison.csv", newline="", encoding="utf-8") as handle:
        assert [row["model"] for row in csv.DictReader(handle)] == ["resnet18", "mobilenet_v2"]
    assert "report.html" in result.output


def test_unknown_model_is_one_clean_error(tmp_path):
    result = runner.invoke(app, ["compare", "resnet81", "--no-train", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "resnet81" in result.output and "resnet18" in result.output  # names the close match
    assert "Traceback" not in result.output


def test_bad_threads_is_a_clean_error(tmp_path):
    result = runner.invoke(app, ["compare", "resnet18", "--no-train", "--data", "digits", "--threads", "0",
                                 "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2 and "threads" in result.output


def test_demo_with_a_tiny_budget(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(
        app, ["demo", "--out", str(out), "--models", "mobilenet_v2", "--data", "digits", "--epochs", "1",
              "--limit-train", "64", "--limit-eval", "64", "--skip-tour"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    with open(out / "comparison.csv", newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert row["model"] == "mobilenet_v2" and 0.0 <= float(row["test_top1"]) <= 100.0
    assert (out / "runs" / "mobilenet_v2" / "checkpoint.pt").is_file()
    assert "Open the report" in result.output


def test_demo_falls_back_to_digits_when_data_is_missing(tmp_path):
    from rich.console import Console

    from cnnlab.cli.demo_cmd import choose_dataset

    console = Console(record=True, width=200)
    assert choose_dataset("fashion-mnist", console, data_root=str(tmp_path / "empty")) == "digits"
    text = console.export_text()
    assert "dataset-fashion-mnist" in text and "digits" in text
