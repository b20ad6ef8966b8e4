"""The comparison's training on a GPU, in a tiny form (one epoch on a few batches): the device path of
``run_compare`` (data moved to CUDA, the trainer's CUDA runtime, results recorded), not the accuracy.

Written against ``run_compare`` as it is (an epochs/limits budget); a named converged budget
(``cnnlab compare --budget converged``) is the same path with more epochs. Skipped where no CUDA
device is present (tests/conftest.py).
"""

from __future__ import annotations

import csv
import json

import pytest

from cnnlab.compare import CompareConfig, run_compare

pytestmark = pytest.mark.cuda

pytest.importorskip("sklearn")  # the digits data set


def test_compare_trains_on_cuda(tmp_path, tiny_specs, quick_latency):
    config = CompareConfig(out=tmp_path, data="digits", image_size=16, train=True, epochs=1, batch_size=32,
                           limit_train=128, limit_eval=64, precise_bn_batches=2, latency=quick_latency,
                           progress=False)  # fmt: skip
    result = run_compare(tiny_specs, config)
    with open(result.files["comparison.csv"], newline="", encoding="utf-8") as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    for spec in tiny_specs:
        run = json.loads((tmp_path / "runs" / spec.name / "result.json").read_text())
        assert run["device"].startswith("cuda"), run["device"]  # the trainer ran on the GPU
        assert run["channels_last"] is True  # cuDNN's layout: the CUDA runtime's rule
        assert 0.0 <= float(rows[spec.name]["test_top1"]) <= 100.0
        assert float(rows[spec.name]["train_images_per_second"]) > 0
        assert result.training[spec.name].train_images == 128
