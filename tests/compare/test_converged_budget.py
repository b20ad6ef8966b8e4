"""``--budget converged``: the converged recipe on every training image, the per-epoch curve on the test set,
learning curves in report.html, binomial error bars and the seed spread; bad budgets are ConfigErrors."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from cnnlab.compare import CompareConfig, run_compare
from cnnlab.compare.curves import read_curve
from cnnlab.compare.error_bars import binomial_sigma_pct, binomial_two_sigma_pct, seed_sd_pct
from cnnlab.errors import ConfigError
from cnnlab.train.recipes import recipe_config


def test_binomial_error_bar_literal_case():
    # p = 0.93 on Fashion-MNIST's 10,000 test images: sqrt(0.93 * 0.07 / 10000) = 0.0025515
    assert binomial_sigma_pct(93.0, 10_000) == pytest.approx(0.25515, abs=1e-5)
    assert binomial_two_sigma_pct(93.0, 10_000) == pytest.approx(0.51029, abs=1e-5)
    assert binomial_two_sigma_pct(50.0, 100) == pytest.approx(10.0)  # 2 * sqrt(0.25 / 100) = 0.1
    assert binomial_two_sigma_pct(100.0, 50) == 0.0
    assert seed_sd_pct([93.0]) is None
    assert seed_sd_pct([92.0, 93.0, 94.0]) == pytest.approx(1.0)


def _config(out, quick_latency, **overrides) -> CompareConfig:
    values = dict(out=out, data="digits", image_size=8, budget="converged", epochs=2, batch_size=32,
                  limit_train=96, limit_eval=60, latency=quick_latency, progress=False)  # fmt: skip
    values.update(overrides)
    return CompareConfig(**values)


def test_converged_budget_trains_the_recipe_with_curves_and_error_bars(tmp_path, tiny_specs, quick_latency):
    spec = tiny_specs[1]
    result = run_compare([spec], _config(tmp_path, quick_latency, seeds=2, seed=4))
    row = result.rows[0]
    runs = [tmp_path / "runs" / spec.name, tmp_path / "runs" / f"{spec.name}@seed5"]
    saved = [json.loads((run / "config.json").read_text())["config"] for run in runs]
    for seed, config in zip((4, 5), saved, strict=True):
        expected = recipe_config("converged", epochs=2, batch_size=32, seed=seed).to_dict()
        assert {k: config[k] for k in expected if k != "device"} == {k: v for k, v in expected.items() if k != "device"}
    # every (limited) training image trains: no validation split; the curve is the test set's
    identity = json.loads((runs[0] / "config.json").read_text())["identity"]
    assert identity["train_images"] == 96 and identity["val_images"] == 60 == identity["test_images"]
    tests = [json.loads((run / "compare_result.json").read_text())["test_top1"] for run in runs]
    assert row.test_top1 == pytest.approx(statistics.mean(tests))
    assert row.val_top1 is None and row.seeds == 2 and row.test_images == 60
    p = row.test_top1 / 100
    assert row.test_top1_2sigma == pytest.approx(200 * math.sqrt(p * (1 - p) / 60))
    assert row.test_top1_seed_sd == pytest.approx(statistics.stdev(tests))
    # the curve's last point is the test accuracy of the final model
    curve = read_curve(runs[0] / "metrics.jsonl", spec.name, spec.family, "test")
    assert curve.epochs == (1, 2) and curve.accuracy_pct[-1] == pytest.approx(tests[0])
    assert curve.cpu_seconds[0] < curve.cpu_seconds[1]
    html = result.files["report.html"].read_text(encoding="utf-8")
    assert "<h2>Learning curves</h2>" in html and "binomial ±2σ" in html and "converged budget" in html
    assert result.files["learning_curves.png"].stat().st_size > 1000
    markdown = result.files["comparison.md"].read_text(encoding="utf-8")
    assert "± 2σ binomial" in markdown and "seed sd" in markdown and "val top-1" not in markdown


@pytest.mark.parametrize("overrides, match", [
    ({"budget": "long"}, "budget must be one of .'demo', 'converged'., got 'long'"),
    ({"recipe": "fast"}, "--budget converged trains with the converged recipe, not --recipe 'fast'"),
    ({"lr": 0.3}, "drop --lr 0.3"),
    ({"budget": "demo", "recipe": "quick"}, "unknown recipe 'quick'"),
    ({"epochs": 0}, "epochs must be"),
    ({"seeds": 0}, "seeds must be"),
])  # fmt: skip
def test_bad_budgets_are_config_errors_naming_the_value(tmp_path, quick_latency, overrides, match):
    with pytest.raises(ConfigError, match=match):
        _config(tmp_path, quick_latency, **overrides)


def test_demo_budget_defaults_are_unchanged(tmp_path, quick_latency):
    config = CompareConfig(out=tmp_path, latency=quick_latency)
    assert (config.epochs, config.batch_size, config.precise_bn_batches, config.recipe) == (1, 128, 50, None)
    fast = CompareConfig(out=tmp_path, recipe="fast", latency=quick_latency)
    assert (fast.epochs, fast.batch_size) == (recipe_config("fast").epochs, recipe_config("fast").batch_size)
