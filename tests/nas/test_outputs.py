"""What a search leaves behind and what it refuses: best.json written by ``search`` itself and
loadable by ``create_model``; a report of a folder that holds no search creates nothing; the same
seed and layout give the same numbers; an --out that cannot be written is one ``error:`` line."""

from __future__ import annotations

import json
import os
import uuid

import optuna
import torch
from typer.testing import CliRunner

import cnnlab
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.genotype import read_genotype_json
from cnnlab.nas.run import search
from cnnlab.nas.spaces import build_network
from cnnlab.nas.storage import make_storage


def _cli(*args):
    from cnnlab.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _toy(out, space="nasnet", **kw):
    return search(space=space, strategy="random", trials=3, data="toy", blocks=2, out=str(out), progress=False, **kw)


def _same_network(a: torch.nn.Module, b: torch.nn.Module) -> None:
    assert [tuple(p.shape) for p in a.parameters()] == [tuple(p.shape) for p in b.parameters()]


def test_search_writes_best_json_loadable_by_create_model(tmp_path):
    result = _toy(tmp_path)
    assert result.best_path == tmp_path / "best.json"
    written = json.loads((tmp_path / "best.json").read_text())
    assert written == result.best_genotype
    net = cnnlab.create_model("nasnet", genotype=str(tmp_path / "best.json"), num_classes=10, in_chans=1, C=8, N=1)
    _same_network(net, build_network(written, num_classes=10, in_chans=1, C=8, N=1))
    ran = _cli("search", "--space", "micro", "--trials", "2", "--data", "toy", "--out", tmp_path / "cli",
               "--no-progress")
    assert ran.exit_code == 0 and f"best genotype: {tmp_path / 'cli' / 'best.json'}" in ran.output


def test_randwire_best_json_builds_the_searched_child(tmp_path):
    result = _toy(tmp_path, space="randwire")
    genotype = read_genotype_json(str(result.best_path))
    net = cnnlab.create_model("randwire_tiny", genotype=genotype, num_classes=10, in_chans=1, C=8)
    _same_network(net, build_network(genotype, num_classes=10, in_chans=1, C=8))
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_randwire_best_json_path_is_accepted_by_create_model(tmp_path):
    result = _toy(tmp_path, space="randwire")
    net = cnnlab.create_model("randwire_tiny", genotype=str(result.best_path), num_classes=10, in_chans=1)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_report_of_a_missing_folder_creates_nothing(tmp_path):
    missing = tmp_path / "nonexistent"
    ran = _cli("search-report", "--study", "s", "--out", missing)
    assert ran.exit_code == 2, ran.output
    assert ran.output.startswith("error:") and "no search journal" in ran.output and str(missing) in ran.output
    assert not missing.exists()
    ran = _cli("search-report", "--study", "s", "--storage", tmp_path / "elsewhere.log", "--out", missing)
    assert ran.exit_code == 2 and "--storage" in ran.output and not missing.exists()
    assert not (tmp_path / "elsewhere.log").exists()


def test_same_seed_and_layout_give_the_same_numbers(tmp_path, monkeypatch):
    import cnnlab.train

    layouts = []
    real_fit = cnnlab.train.fit

    def recording_fit(model, bundle, config, **kw):
        layouts.append(config.channels_last)
        return real_fit(model, bundle, config, **kw)

    monkeypatch.setattr(cnnlab.train, "fit", recording_fit)
    budget = ChildBudget(epochs=1, limit_train=128, C=4, channels_last=False)
    runs = []
    for name in ("first", "second"):
        search(space="micro", strategy="evolution", trials=3, data="digits", out=str(tmp_path / name), study="s",
               progress=False, budget=budget)
        study = optuna.load_study(study_name="s", storage=make_storage(None, tmp_path / name))
        runs.append([(t.user_attrs["tokens"], t.value) for t in study.get_trials()])
    assert runs[0] == runs[1] and len(runs[0]) == 3
    assert layouts == [False] * 6
    assert study.user_attrs["settings"]["channels_last"] is False


def test_cli_passes_the_layout_flag(tmp_path):
    args = ["search", "--space", "micro", "--trials", "1", "--data", "toy", "--study", "s", "--out", tmp_path,
            "--no-progress"]
    assert _cli(*args, "--channels-last").exit_code == 0
    study = optuna.load_study(study_name="s", storage=make_storage(None, tmp_path))
    assert study.user_attrs["settings"]["channels_last"] is True
    ran = _cli(*args, "--no-channels-last")  # a study keeps its layout
    assert ran.exit_code == 2 and "channels_last=True" in ran.output


def test_out_that_is_a_file_is_one_error_line(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    ran = _cli("search", "--data", "toy", "--out", target, "--no-progress")
    assert ran.exit_code == 2 and ran.output.startswith("error:") and "is a file" in ran.output
    assert "Traceback" not in ran.output and target.read_text() == "not a folder"


def test_read_only_out_is_one_error_line(mounts):
    ro = mounts(64, read_only=True)
    ran = _cli("search", "--data", "toy", "--out", ro / "run", "--no-progress")
    assert ran.exit_code == 2, ran.output
    assert ran.output.startswith("error:") and "--out" in ran.output and "Traceback" not in ran.output


def test_full_disk_is_one_error_line(mounts):
    full = mounts(32)
    (full / "filler").write_bytes(os.urandom(24 * 1024))
    ran = _cli("search", "--space", "nasnet", "--trials", "200", "--data", "toy", "--study",
               uuid.uuid4().hex, "--out", full / "run", "--no-progress")
    assert ran.exit_code == 2, ran.output
    assert ran.output.startswith("error:") and "No space left" in ran.output and "Traceback" not in ran.output


def test_report_table_is_legible_at_80_columns(tmp_path):
    from cnnlab.cli.main import app

    search(space="nasnet", strategy="evolution", trials=3, data="toy", out=str(tmp_path), study="s", progress=False)
    ran = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["search-report", "--study", "s", "--out", str(tmp_path)])
    assert ran.exit_code == 0, ran.output
    lines = [line for line in ran.output.splitlines() if "COMPLETE" in line]
    assert len(lines) == 3 and all(len(line) <= 80 and "evolution" in line for line in lines)
    values = [line.split("│")[4].strip() for line in lines]
    assert all(len(v) == 6 and v.startswith("0.") for v in values)  # the accuracy in full
