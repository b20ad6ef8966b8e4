"""Recorded convergence numbers: written by the benchmark, shown beside a short run, always labelled."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from cnnlab.compare import CompareConfig, run_compare
from cnnlab.compare import recorded as recorded_module
from cnnlab.compare.recorded import load_recorded, recorded_from_rows, write_recorded


def _rows():
    return [SimpleNamespace(model="tiny_staged", family="tiny-staged", params=1200, macs=30_000, test_top1=91.25,
                            test_top1_2sigma=0.56, seeds=1),
            SimpleNamespace(model="untrained", family="x", params=1, macs=1, test_top1=None, test_top1_2sigma=None,
                            seeds=None)]  # fmt: skip


def test_a_record_round_trips_and_belongs_to_one_data_and_size(tmp_path):
    run = recorded_from_rows(_rows(), command="python benchmarks/converged.py --epochs 6", epochs=6, image_size=8,
                             data="digits")
    assert [r.model for r in run.rows] == ["tiny_staged"]  # a row without a test accuracy is not recorded
    path = write_recorded(run, tmp_path / "record.json")
    assert json.loads(path.read_text())["command"] == "python benchmarks/converged.py --epochs 6"
    assert load_recorded("digits", 8, path) == run
    assert load_recorded("digits", 16, path) is None and load_recorded("fashion-mnist", 8, path) is None
    assert load_recorded("digits", 8, tmp_path / "missing.json") is None
    assert run.recorded_utc in run.caption and "6 epochs" in run.caption and run.command in run.caption


def test_the_package_record_is_fashion_mnist_at_32_with_its_command():
    run = load_recorded("fashion-mnist", 32)
    if run is None:
        pytest.skip("no convergence run recorded in this checkout")
    assert run.command.startswith("python benchmarks/converged.py") and run.rows
    import cnnlab

    for row in run.rows:
        assert 10.0 <= row.test_top1 <= 100.0
        if row.model in cnnlab.list_models():  # the record is of today's networks: same params and MACs
            report = cnnlab.inspect(cnnlab.create_model(row.model, num_classes=10, in_chans=1), (1, 1, 32, 32))
            assert (row.params, row.macs) == (report.params, report.macs), row.model


def test_a_short_comparison_shows_the_record_labelled_and_a_converged_one_does_not(tmp_path, tiny_specs,
                                                                                   quick_latency, monkeypatch):
    run = recorded_from_rows(_rows(), command="python benchmarks/converged.py --epochs 6", epochs=6, image_size=8,
                             data="digits")
    monkeypatch.setattr(recorded_module, "RECORD_FILE", write_recorded(run, tmp_path / "record.json"))
    config = CompareConfig(out=tmp_path / "short", data="digits", image_size=8, train=True, epochs=1, batch_size=32,
                           limit_train=128, limit_eval=64, latency=quick_latency, progress=False)
    page = run_compare(tiny_specs, config).files["report.html"].read_text(encoding="utf-8")
    assert "At convergence (recorded)" in page and "python benchmarks/converged.py --epochs 6" in page
    assert "tiny_staged (this run)" in page and run.recorded_utc in page
    # the table of the live run is unchanged: the recorded accuracy appears only in its own section
    table = page.split("<h2>Comparison</h2>")[1].split("<h2>")[0]
    assert "91.25" not in table
    # another image size, or no record: no section
    other = CompareConfig(**{**config.__dict__, "out": tmp_path / "other", "image_size": 12})
    assert "At convergence (recorded)" not in run_compare(tiny_specs, other).files["report.html"].read_text()
