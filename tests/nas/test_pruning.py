"""Multi-fidelity search: children report validation accuracy per epoch and Optuna's successive-halving or
Hyperband pruner stops weak ones; a pruned child is a PRUNED trial the strategy learns from; a pruner that
cannot prune is a ConfigError naming the value."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from cnnlab.errors import ConfigError
from cnnlab.nas.engine import Goals, SearchConfig, run_search
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.run import search
from cnnlab.nas.spaces import make_space
from cnnlab.nas.storage import make_storage
from cnnlab.nas.strategies import make_strategy

EPOCHS = 4


def _trials(out, study):
    return optuna.load_study(study_name=study, storage=make_storage(None, out)).get_trials()


def _curve(tokens):
    """A fake learning curve: the first token sets how good a child is, each epoch adds to it."""
    return [0.1 * tokens[0] + 0.01 * epoch for epoch in range(1, EPOCHS + 1)]


@pytest.mark.parametrize("pruner", ["sha", "hyperband"])
def test_the_pruner_stops_weak_children(tmp_path, pruner):
    space = make_space("micro")
    epochs_run: dict[tuple[int, ...], int] = {}
    learnt = []

    def objective(tokens, genotype, report):
        for epoch, accuracy in enumerate(_curve(tokens), start=1):
            epochs_run[tuple(tokens)] = epoch
            report(epoch, accuracy)
        return max(_curve(tokens))

    strategy = make_strategy("random", space.choices, seed=1)
    real_observe = strategy.observe
    strategy.observe = lambda tokens, reward: (learnt.append((list(tokens), reward)), real_observe(tokens, reward))
    config = SearchConfig(space="micro", strategy="random", trials=10, data="fake", epochs_per_trial=EPOCHS,
                          out=str(tmp_path), study="p")
    run_search(config, space, strategy, objective, progress=False, goals=Goals(pruner=pruner, epochs=EPOCHS))
    trials = _trials(tmp_path, "p")
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert pruned, "nothing was pruned"
    assert len(pruned) + len(complete) == 10 == len(trials)  # --trials counts trained children, pruned ones too
    for t in pruned:
        stopped = max(t.intermediate_values)
        assert stopped < EPOCHS and epochs_run[tuple(t.user_attrs["tokens"])] == stopped  # training stopped there
        assert t.value == t.intermediate_values[stopped] == _curve(t.user_attrs["tokens"])[stopped - 1]
    for t in complete:
        assert sorted(t.intermediate_values) == list(range(1, EPOCHS + 1))
    # the strategy learnt every trial, a pruned one at its last reported accuracy
    assert sorted(map(tuple, (tok for tok, _ in learnt))) == sorted(tuple(t.user_attrs["tokens"]) for t in trials)
    by_tokens = {tuple(tok): r for tok, r in learnt}
    assert all(by_tokens[tuple(t.user_attrs["tokens"])] == t.value for t in trials)


def test_pruning_stops_a_child_training_on_digits(tmp_path):
    """Real children on digits, 3 epochs: successive halving (with fewer than 4 children at a rung Optuna
    promotes only the best so far) stops some after epoch 1 or 2; they trained fewer epochs."""
    search(space="micro", strategy="random", trials=5, data="digits", out=str(tmp_path), study="d", progress=False,
           budget=ChildBudget(epochs=3, limit_train=160, C=4), pruner="sha")
    trials = _trials(tmp_path, "d")
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and len(trials) == 5
    for t in pruned:
        assert max(t.intermediate_values) < 3 and 0.0 <= t.value <= 1.0
        best = max(o.intermediate_values[max(t.intermediate_values)] for o in trials
                   if o.number < t.number and max(t.intermediate_values) in o.intermediate_values)
        assert t.value < best  # below a child before it at the same epoch
    for t in trials:
        if t.state == TrialState.COMPLETE:
            assert sorted(t.intermediate_values) == [1, 2, 3]
            assert t.value == max(t.intermediate_values.values())  # the best validation accuracy


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"data": "toy", "pruner": "sha"}, "--pruner sha: --data 'toy' scores a child at once"),
    ({"space": "nb201", "data": "nb201:cifar10", "pruner": "hyperband"}, "--data 'nb201:cifar10' scores a child"),
    ({"pruner": "sha", "objectives": "accuracy,macs"}, "multi-objective studies do not support pruning"),
    ({"pruner": "sha", "epochs_per_trial": 1}, "--epochs-per-trial 1: a child of one epoch cannot be stopped"),
    ({"pruner": "asha"}, "--pruner must be one of"),
])
def test_a_pruner_that_cannot_prune_is_refused(tmp_path, kwargs, named):
    args = {"space": "micro", "data": "digits", "epochs_per_trial": 2, "trials": 2, "out": str(tmp_path),
            "progress": False, **kwargs}
    with pytest.raises(ConfigError, match=named):
        search(**args)
    assert not (tmp_path / "optuna-journal.log").exists()


def test_cli_pruner_error_is_one_line(tmp_path):
    from cnnlab.cli.main import app

    bad = CliRunner().invoke(app, ["search", "--data", "toy", "--pruner", "sha", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--pruner sha" in bad.output and "Traceback" not in bad.output
