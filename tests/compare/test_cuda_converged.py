"""The converged comparison recipe on a GPU, in a tiny form (one epoch on a few batches): the device path of
``run_compare(budget="converged")`` (data moved to CUDA, the recipe's trainer settings on the CUDA runtime,
results recorded), not the accuracy. Skipped where no CUDA device is present (tests/conftest.py).
"""

from __future__ import annotations

import csv
import json

import pytest

from cnnlab.compare import CompareConfig, run_compare

pytestmark = pytest.mark.cuda

pytest.importorskip("sklearn")  # the digits data set

DEVICE = "cuda"  # what the trainer's device="auto" resolves to where a CUDA device is present


def test_converged_budget_trains_on_cuda(tmp_path, tiny_specs, quick_latency):
    config = CompareConfig(out=tmp_path, data="digits", image_size=16, budget="converged", epochs=1, batch_size=32,
                           limit_train=128, limit_eval=64, latency=quick_latency, progress=False)  # fmt: skip
    result = run_compare(tiny_specs, config)
    with open(result.files["comparison.csv"], newline="", encoding="utf-8") as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    for spec in tiny_specs:
        run_dir = tmp_path / "runs" / spec.name
        run = json.loads((run_dir / "result.json").read_text())
        assert run["device"].startswith(DEVICE), run["device"]  # the trainer ran on the GPU
        trained = json.loads((run_dir / "config.json").read_text())["config"]
        # the converged recipe's settings reached the trainer (cnnlab.train.recipes)
        assert trained["nesterov"] is True and trained["label_smoothing"] == 0.1 and trained["epochs"] == 1
        assert 0.0 <= float(rows[spec.name]["test_top1"]) <= 100.0
        assert float(rows[spec.name]["train_images_per_second"]) > 0
        assert result.training[spec.name].train_images == 128
