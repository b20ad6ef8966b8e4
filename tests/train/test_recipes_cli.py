"""``cnnlab train --recipe``: a recipe run on digits records the recipe's settings; an unknown recipe, an
option the recipe fixes, or no epochs is one ``error:`` line naming the value, exit status 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnnlab.cli.main import app
from cnnlab.train.recipes import recipe_config

pytest.importorskip("sklearn")


def _invoke(out, *extra):
    args = ["train", "randwire_tiny", "--data", "digits", "--limit-train", "64", "--limit-val", "32",
            "--limit-test", "32", "--out", str(out), "--no-progress", *extra]  # fmt: skip
    return CliRunner().invoke(app, [str(a) for a in args])


def test_fast_recipe_run_records_its_settings(tmp_path):
    done = _invoke(tmp_path / "run", "--recipe", "fast", "--epochs", "2", "--batch-size", "32", "--seed", "3")
    assert done.exit_code == 0, done.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    expected = recipe_config("fast", epochs=2, batch_size=32, seed=3).to_dict()
    assert {k: saved[k] for k in expected if k != "device"} == {k: v for k, v in expected.items() if k != "device"}
    assert saved["lr"] == pytest.approx(0.2 * 32 / 512)  # the recipe's lr, scaled with the batch
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("extra, words", [
    (["--recipe", "slow"], ["unknown recipe 'slow'"]),
    (["--recipe", "fast", "--lr", "0.3"], ["fixes lr", "0.3"]),
    (["--recipe", "converged", "--label-smoothing", "0.2"], ["fixes label_smoothing", "0.2"]),
    (["--recipe", "fast", "--epochs", "0"], ["epochs", "got 0"]),
])  # fmt: skip
def test_bad_recipe_options_are_one_error_line(tmp_path, extra, words):
    done = _invoke(tmp_path / "run", *extra)
    assert done.exit_code == 2, done.output
    assert "error:" in done.output and "Traceback" not in done.output
    for word in words:
        assert word in done.output
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
