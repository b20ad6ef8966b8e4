"""Multi-objective search: accuracy and costs in one Optuna study, its Pareto set equal to a brute-force
non-dominated filter of the trials, costs equal to torch's own count, bad objective names refused."""

from __future__ import annotations

import csv
import json

import optuna
import pytest
import torch
from optuna.study import StudyDirection
from optuna.trial import TrialState
from typer.testing import CliRunner

from cnnlab.errors import ConfigError
from cnnlab.nas.objectives import ChildShape, measure_costs, parse_objectives
from cnnlab.nas.report import search_report
from cnnlab.nas.run import search
from cnnlab.nas.spaces import build_network
from cnnlab.nas.storage import make_storage


def _study(out, name):
    return optuna.load_study(study_name=name, storage=make_storage(None, out))


def _dominates(a, b, signs):
    """a dominates b: no worse on every objective, better on one (signs: +1 maximise, -1 minimise)."""
    pairs = list(zip(a, b, signs, strict=True))
    return all(s * x >= s * y for x, y, s in pairs) and any(s * x > s * y for x, y, s in pairs)


def _brute_force_front(trials, signs):
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    return sorted(t.number for t in done if not any(_dominates(o.values, t.values, signs) for o in done))


@pytest.mark.parametrize("objectives", ["accuracy,macs", "accuracy,macs,params"])
def test_pareto_set_is_the_non_dominated_trials(tmp_path, objectives):
    result = search(space="micro", strategy="random", trials=10, data="toy", out=str(tmp_path), study="mo",
                    progress=False, objectives=objectives)
    names = objectives.split(",")
    study = _study(tmp_path, "mo")
    assert study.directions == [StudyDirection.MAXIMIZE] + [StudyDirection.MINIMIZE] * (len(names) - 1)
    trials = study.get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 10 == result.completed
    front = _brute_force_front(trials, [1] + [-1] * (len(names) - 1))
    assert sorted(r["trial"] for r in result.pareto) == front
    assert len(front) >= 2  # a trade-off, not one winner: the toy's best cell is not its cheapest
    document = json.loads((tmp_path / "pareto.json").read_text())
    assert document["objectives"] == names and sorted(r["trial"] for r in document["pareto"]) == front
    for row in document["pareto"]:  # the values are the trial's, the genotype its own
        t = trials[row["trial"]]
        assert [row[n] for n in names] == t.values and row["genotype"] == t.user_attrs["genotype"]
    with open(tmp_path / "pareto.csv") as handle:
        assert sorted(int(r["trial"]) for r in csv.DictReader(handle)) == front
    assert (tmp_path / "pareto.md").read_text().count("\n| ") == len(front) + 1
    assert result.best_value == max(t.values[0] for t in trials)  # best.json: the most accurate child
    assert json.loads((tmp_path / "best.json").read_text()) == max(
        trials, key=lambda t: t.values[0]).user_attrs["genotype"]


def test_costs_equal_torch_counts():
    """Parameters equal torch's numel sum of the real network; MACs of one micro cell by hand."""
    genotype = {"space": "micro", "edges": ["conv_3x3", "none", "identity"]}
    shape = ChildShape(10, 1, (8, 8), 4, 1)
    costs = measure_costs(genotype, shape, ("macs", "params", "latency"))
    net = build_network(genotype, num_classes=10, in_chans=1, C=4, N=1)
    assert costs["params"] == sum(p.numel() for p in net.parameters())
    assert costs["latency_ms"] > 0
    # the cell's one 3x3 conv at C=4 on 8x8 (first cell) and 2C=8 on 4x4 (second cell) adds exactly its
    # k*k*Cin*Cout*H*W multiply-accumulates to the same network with that edge 'none'
    without = measure_costs({"space": "micro", "edges": ["none", "none", "identity"]}, shape, ("macs",))
    assert costs["macs"] - without["macs"] == 9 * 4 * 4 * 8 * 8 + 9 * 8 * 8 * 4 * 4


def test_report_of_a_multi_objective_study_writes_its_front_and_plot(tmp_path):
    search(space="micro", strategy="random", trials=6, data="toy", out=str(tmp_path), study="mo", progress=False,
           objectives="accuracy,params")
    (tmp_path / "pareto.json").unlink()
    report = search_report(["mo"], out=str(tmp_path))
    assert report.pareto_paths["mo"].is_file()
    assert report.pareto_plots["mo"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    front = _brute_force_front(_study(tmp_path, "mo").get_trials(), [1, -1])
    assert sorted(r["trial"] for r in report.pareto["mo"]) == front
    assert all(r.costs and "params" in r.costs for r in report.rows if r.state == "COMPLETE")


@pytest.mark.parametrize(("text", "named"), [("accuracy,flops", "flops"), ("macs,accuracy", "start with"),
                                             ("accuracy,macs,macs", "twice"), ("", "name the objectives"),
                                             ("acc", "acc")])
def test_bad_objectives_are_refused(text, named):
    with pytest.raises(ConfigError, match=named):
        parse_objectives(text)


def test_resume_with_other_objectives_is_refused(tmp_path):
    common = {"space": "micro", "strategy": "random", "trials": 2, "data": "toy", "out": str(tmp_path),
              "study": "s", "progress": False}
    search(objectives="accuracy,macs", **common)
    with pytest.raises(ConfigError, match="objective"):
        search(**common)
    with pytest.raises(ConfigError, match="objective"):
        search(objectives="accuracy,params", **common)


def test_cli_multi_objective_prints_the_front(tmp_path):
    from cnnlab.cli.main import app

    torch.set_num_threads(1)
    runner = CliRunner()
    ran = runner.invoke(app, ["search", "--space", "micro", "--trials", "5", "--data", "toy", "--objective",
                              "accuracy,macs", "--out", str(tmp_path), "--no-progress"])
    assert ran.exit_code == 0, ran.output
    assert "Pareto set of study micro-random-toy" in ran.output and "| trial | val acc | MACs |" in ran.output
    assert (tmp_path / "pareto.png").is_file() and (tmp_path / "pareto.json").is_file()
    bad = runner.invoke(app, ["search", "--data", "toy", "--objective", "accuracy,flops", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "flops" in bad.output and "Traceback" not in bad.output
