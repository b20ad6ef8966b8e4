"""A search cannot run away: children failing in a row stop it with the child's own error, a budget
whose child cannot fit is refused before any trial, and absurd space sizes are refused at once."""

from __future__ import annotations

import time

import optuna
import pytest
import torch
from optuna.trial import TrialState
from typer.testing import CliRunner

from cnnlab.errors import ConfigError
from cnnlab.nas import child_size
from cnnlab.nas.child_size import MAX_CHILD_PARAMS, child_cost, too_large
from cnnlab.nas.engine import SearchConfig, run_search
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.run import search
from cnnlab.nas.spaces import build_network, make_space
from cnnlab.nas.storage import make_storage
from cnnlab.nas.strategies import make_strategy


def _cli(*args):
    from cnnlab.cli.main import app

    return CliRunner().invoke(app, list(args))


def _states(out, study):
    trials = optuna.load_study(study_name=study, storage=make_storage(None, out)).get_trials()
    return [t.state for t in trials], trials


@pytest.mark.parametrize("max_failures", [5, 2])
def test_children_failing_in_a_row_stop_the_search_with_their_error(tmp_path, max_failures):
    space = make_space("micro")
    config = SearchConfig(space="micro", trials=50, data="toy", out=str(tmp_path), study="f",
                          max_failures=max_failures)

    def objective(tokens, genotype):
        raise RuntimeError("CUDA out of memory. Tried to allocate 74.50 GiB")

    with pytest.raises(ConfigError, match=rf"{max_failures} children failed in a row.*CUDA out of memory"):
        run_search(config, space, make_strategy("random", space.choices), objective, progress=False)
    states, trials = _states(tmp_path, "f")
    assert states == [TrialState.FAIL] * max_failures
    assert all("CUDA out of memory" in t.user_attrs["error"] for t in trials)


def test_a_success_resets_the_count_of_failures(tmp_path):
    space = make_space("micro")
    calls = []

    def objective(tokens, genotype):  # fails twice out of three
        calls.append(tokens)
        if len(calls) % 3:
            raise RuntimeError("flaky child")
        return 0.5

    config = SearchConfig(space="micro", trials=4, data="toy", out=str(tmp_path), study="g", max_failures=3)
    result = run_search(config, space, make_strategy("random", space.choices), objective, progress=False)
    assert result.completed == 4 and len(calls) == 12


def test_child_costs_match_torch(tmp_path):
    """Params counted on the meta device equal torch's count on the real network."""
    space = make_space("nasnet", blocks=2)
    genotype = space.decode(make_strategy("random", space.choices, seed=1).propose())
    cost = child_cost(genotype, num_classes=10, in_chans=1, image_size=(8, 8), C=8, N=1, batch_size=16)
    torch.manual_seed(0)
    real = build_network(genotype, num_classes=10, in_chans=1, C=8, N=1)
    assert cost.params == sum(p.numel() for p in real.parameters())
    assert cost.train_bytes == int(1.5 * cost.activation_bytes) + 16 * cost.params
    assert cost.activation_bytes >= 16 * 1 * 8 * 8 * 4  # at least the batch of float32 inputs
    doubled = child_cost(genotype, num_classes=10, in_chans=1, image_size=(8, 8), C=8, N=1, batch_size=32)
    assert doubled.macs == cost.macs and doubled.activation_bytes == 2 * cost.activation_bytes


def test_refusals_name_their_limit():
    small = child_size.ChildCost(params=1000, macs=10**6, batch_size=64, activation_bytes=2**20, train_bytes=2**21)
    assert too_large(small, 2**30) is None and too_large(small, None) is None
    assert "available" in too_large(small, 2**20)
    huge = child_size.ChildCost(MAX_CHILD_PARAMS + 1, 10**6, 64, 2**20, 2**21)
    assert "parameters" in too_large(huge, None)


def test_huge_child_budget_is_refused_before_training(tmp_path):
    started = time.monotonic()
    ran = _cli("search", "--C", "100000", "--trials", "2", "--data", "digits", "--out", str(tmp_path), "--no-progress")
    assert ran.exit_code == 2, ran.output
    assert ran.output.startswith("error:") and "--C 100000" in ran.output and "parameters" in ran.output
    assert time.monotonic() - started < 60
    assert not (tmp_path / "optuna-journal.log").exists()  # no trial was even created


def test_child_too_large_for_memory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("cnnlab.nas.evaluate.available_memory_bytes", lambda device: 2**20)
    with pytest.raises(ConfigError, match=r"--C 8 .*--batch-size 64: training the child needs .* than the 1.0 MiB"):
        search(space="micro", trials=2, data="digits", out=str(tmp_path), progress=False)


def test_later_children_too_large_are_failed_trials(tmp_path, monkeypatch):
    """The first child fits; the later ones do not: each is a failed trial, and the run of failures stops."""
    from cnnlab.nas import evaluate

    first = evaluate.measure_child

    def measure(genotype, data, budget):
        cost, _ = first(genotype, data, budget)
        return cost, None if measure.calls == 0 else "the child is too large for this test"

    def counting(genotype, data, budget):
        result = measure(genotype, data, budget)
        measure.calls += 1
        return result

    measure.calls = 0
    monkeypatch.setattr(evaluate, "measure_child", counting)
    monkeypatch.setattr("cnnlab.nas.run.measure_child", counting)
    with pytest.raises(ConfigError, match="ChildTooLarge: the child is too large for this test"):
        search(space="micro", trials=5, data="digits", out=str(tmp_path), progress=False, max_failures=3,
               budget=ChildBudget(limit_train=64, C=4))
    states, _ = _states(tmp_path, "micro-random-digits")
    assert states == [TrialState.FAIL] * 3


@pytest.mark.parametrize(("args", "flag"), [
    (["--space", "nasnet", "--blocks", "1000"], "--blocks"),
    (["--space", "nasnet", "--blocks", "0"], "--blocks"),
    (["--space", "randwire", "--nodes", "1"], "--nodes"),
    (["--space", "randwire", "--nodes", "100000"], "--nodes"),
    (["--max-failures", "0"], "--max-failures"),
    (["--heartbeat-s", "0"], "--heartbeat-s"),
    (["--seed", str(2**70)], "--seed"),
    (["--batch-size", "0"], "--batch-size"),
    (["--worker", "a/b"], "--worker"),
])
def test_bad_sizes_are_refused_at_once_naming_the_flag(tmp_path, args, flag):
    started = time.monotonic()
    ran = _cli("search", *args, "--data", "toy", "--out", str(tmp_path), "--no-progress")
    assert ran.exit_code == 2, ran.output
    assert ran.output.startswith("error:") and flag in ran.output and "Traceback" not in ran.output
    assert " K" not in ran.output
    assert time.monotonic() - started < 10


def test_two_nodes_is_the_smallest_randwire_space():
    space = make_space("randwire", nodes=2)
    for graph in range(space.choices[0]):  # ER, BA and WS all build at two nodes
        genotype = space.decode([graph, 0, 0, 0, 0])
        net = build_network(genotype, num_classes=10, in_chans=1, C=4)
        assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
