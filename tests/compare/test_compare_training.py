"""Training inside ``run_compare``: accuracy columns, per-model run folders, skip and resume."""

from __future__ import annotations

import csv
import json

import pytest

from cnnlab.compare import CompareConfig, run_compare
from cnnlab.errors import ConfigError


def _config(out, quick_latency, **overrides) -> CompareConfig:
    values = dict(out=out, data="digits", image_size=8, train=True, epochs=1, batch_size=32, limit_train=128,
                  limit_eval=64, latency=quick_latency, progress=False)  # fmt: skip
    values.update(overrides)
    return CompareConfig(**values)


def test_training_writes_accuracy_and_runs(tmp_path, tiny_specs, quick_latency):
    result = run_compare(tiny_specs, _config(tmp_path, quick_latency))
    with open(result.files["comparison.csv"], newline="", encoding="utf-8") as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    for spec in tiny_specs:
        row = rows[spec.name]
        assert 0.0 <= float(row["test_top1"]) <= 100.0
        assert 0.0 <= float(row["val_top1"]) <= 100.0
        assert int(row["epochs"]) == 1 and int(row["train_images"]) == 128
        assert float(row["train_images_per_second"]) > 0
        run_dir = tmp_path / "runs" / spec.name
        assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "metrics.jsonl").is_file()
        assert json.loads((run_dir / "compare_budget.json").read_text())["epochs"] == 1
        # the table reports what the trainer measured (its metrics file is the reference)
        last = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()][-1]
        assert float(row["val_top1"]) == pytest.approx(100.0 * last["val_acc"])
    assert "test top-1 %" in result.files["comparison.md"].read_text(encoding="utf-8")
    assert result.training[tiny_specs[0].name].skipped is False

    # a second run skips finished models and keeps their numbers
    mtime = (tmp_path / "runs" / tiny_specs[0].name / "checkpoint.pt").stat().st_mtime_ns
    again = run_compare(tiny_specs, _config(tmp_path, quick_latency))
    assert all(outcome.skipped for outcome in again.training.values())
    assert (tmp_path / "runs" / tiny_specs[0].name / "checkpoint.pt").stat().st_mtime_ns == mtime
    assert [r.test_top1 for r in again.rows] == [r.test_top1 for r in result.rows]

    # an unfinished run (checkpoint, no result) is resumed, not restarted
    (tmp_path / "runs" / tiny_specs[1].name / "compare_result.json").unlink()
    resumed = run_compare(tiny_specs, _config(tmp_path, quick_latency))
    assert resumed.training[tiny_specs[0].name].skipped
    assert resumed.training[tiny_specs[1].name].resumed and not resumed.training[tiny_specs[1].name].skipped
    assert resumed.rows[1].test_top1 == pytest.approx(result.rows[1].test_top1)

    # a different budget never overwrites a run
    with pytest.raises(ConfigError, match="different training budget"):
        run_compare(tiny_specs, _config(tmp_path, quick_latency, limit_train=96))
