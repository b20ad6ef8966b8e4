"""Hard cost limits: a child over a limit is measured, never trained, and closed PRUNED with what it broke;
limits no child can meet are ConfigErrors naming the value."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

import cnnlab.train
from cnnlab.errors import ConfigError
from cnnlab.nas.constraints import CostLimits
from cnnlab.nas.engine import MAX_REFUSED_IN_ROW, Goals, SearchConfig, run_search
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.objectives import ChildShape, measure_costs
from cnnlab.nas.run import search
from cnnlab.nas.spaces import make_space
from cnnlab.nas.storage import make_storage
from cnnlab.nas.strategies import make_strategy


def _trials(out, study):
    return optuna.load_study(study_name=study, storage=make_storage(None, out)).get_trials()


def test_a_child_over_the_limit_is_never_trained(tmp_path, monkeypatch):
    space = make_space("micro")
    shape = ChildShape(10, 1, (8, 8), 4, 1)
    # the first proposals of random search (seed 0): the limit is their median, so some are over it
    draws = make_strategy("random", space.choices, seed=0)
    macs = sorted(measure_costs(space.decode(draws.propose()), shape, ("macs",))["macs"] for _ in range(6))
    limit = macs[3] - 1
    trained = []
    real_fit = cnnlab.train.fit

    def counting_fit(model, *args, **kwargs):
        trained.append(sum(p.numel() for p in model.parameters()))
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(cnnlab.train, "fit", counting_fit)
    result = search(space="micro", strategy="random", trials=3, data="digits", out=str(tmp_path), study="c",
                    progress=False, budget=ChildBudget(epochs=1, limit_train=128, C=4),
                    limits=CostLimits(max_macs=limit))
    trials = _trials(tmp_path, "c")
    refused = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert result.completed == len(complete) == 3 == len(trained)  # one fit per completed child, none other
    assert refused, "no child broke the limit"
    for t in refused:
        assert t.user_attrs["macs"] > limit and t.user_attrs["violates"].startswith("macs ")
        assert "--max-macs" in t.user_attrs["violates"] and not t.intermediate_values and t.values is None
    for t in complete:
        assert t.user_attrs["macs"] <= limit
    assert sorted(trained) == sorted(t.user_attrs["params"] for t in complete)


def test_limits_are_checked_on_every_cost_and_learnt_as_reward_zero(tmp_path):
    """A fake measurement: children whose first token is odd are too slow; the strategy sees them at 0."""
    space = make_space("micro")
    observed = []
    strategy = make_strategy("random", space.choices, seed=3)
    real_observe = strategy.observe
    strategy.observe = lambda tokens, reward: (observed.append((tokens, reward)), real_observe(tokens, reward))

    def measure(genotype):
        slow = space.encode(genotype)[0] % 2 == 1
        return {"latency_ms": 50.0 if slow else 1.0, "params": 10}

    goals = Goals(limits=CostLimits(max_latency_ms=10.0, max_params=100), measure=measure)
    config = SearchConfig(space="micro", strategy="random", trials=5, data="toy", out=str(tmp_path), study="l")
    run_search(config, space, strategy, lambda tokens, genotype: 0.5, progress=False, goals=goals)
    trials = _trials(tmp_path, "l")
    refused = [t for t in trials if t.state == TrialState.PRUNED]
    assert all(t.user_attrs["tokens"][0] % 2 == 1 for t in refused)
    assert all(t.user_attrs["tokens"][0] % 2 == 0 for t in trials if t.state == TrialState.COMPLETE)
    assert refused and all("latency_ms 50 > --max-latency-ms 10" == t.user_attrs["violates"] for t in refused)
    rewards = {tuple(t): r for t, r in observed}
    assert all(rewards[tuple(t.user_attrs["tokens"])] == 0.0 for t in refused)


def test_a_strategy_stuck_over_the_limits_stops_the_search(tmp_path):
    space = make_space("micro")
    goals = Goals(limits=CostLimits(max_macs=1), measure=lambda genotype: {"macs": 10}, max_refused=7)
    config = SearchConfig(space="micro", strategy="random", trials=3, data="toy", out=str(tmp_path), study="x")
    assert MAX_REFUSED_IN_ROW == Goals().max_refused == 200
    with pytest.raises(ConfigError, match=r"7 children in a row broke the cost limits \(--max-macs 1\)"):
        run_search(config, space, make_strategy("random", space.choices), lambda t, g: 0.5, progress=False,
                   goals=goals)
    trials = _trials(tmp_path, "x")
    assert len(trials) == 7 and all(t.state == TrialState.PRUNED for t in trials)


@pytest.mark.parametrize(("limits", "named"), [
    ({"max_macs": 0}, "--max-macs must be a number in"),
    ({"max_params": -5}, "--max-params must be a number in"),
    ({"max_latency_ms": math.nan}, "--max-latency-ms must be a finite number"),
    ({"max_macs": math.inf}, "--max-macs must be a finite number"),
])
def test_limits_no_child_can_meet_are_refused(limits, named):
    with pytest.raises(ConfigError, match=named):
        CostLimits(**limits)


def test_a_limit_below_the_cheapest_cell_is_refused(tmp_path):
    # NAS-Bench-201 at CIFAR-10 size: the all-'none' cell still has the stem, the two residual reductions and
    # the classifier; 1,000 parameters are fewer than its stem and classifier alone
    with pytest.raises(ConfigError, match=r"--max-params 1000 cannot be met by any child of --space nb201.*"
                                          r"every edge 'none'"):
        search(space="nb201", trials=2, data="nb201:cifar10", out=str(tmp_path), progress=False,
               limits=CostLimits(max_params=1000))
    with pytest.raises(ConfigError, match="--max-macs 10 cannot be met by any child of --space micro"):
        search(space="micro", trials=2, data="toy", out=str(tmp_path), progress=False, limits=CostLimits(max_macs=10))
    assert not (tmp_path / "optuna-journal.log").exists()  # refused before any trial


def test_cli_limits(tmp_path):
    from cnnlab.cli.main import app

    runner = CliRunner()
    bad = runner.invoke(app, ["search", "--data", "toy", "--max-macs", "0", "--out", str(tmp_path / "a")])
    assert bad.exit_code == 2 and "--max-macs" in bad.output and "0" in bad.output and "Traceback" not in bad.output
    ran = runner.invoke(app, ["search", "--space", "nb201", "--data", "nb201:cifar10", "--trials", "4",
                              "--max-macs", "60e6", "--out", str(tmp_path / "b"), "--no-progress"])
    assert ran.exit_code == 0, ran.output
    trials = _trials(tmp_path / "b", "nb201-random-nb201:cifar10")
    assert all(t.user_attrs["macs"] <= 60e6 for t in trials if t.state == TrialState.COMPLETE)
