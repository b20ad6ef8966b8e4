"""``--data nb201:...``: a search whose cells are scored by the NAS-Bench-201 table, on the same engine,
with every strategy; what the user typed wrong is one ConfigError naming it."""

from __future__ import annotations

import json

import pytest

from cnnlab.errors import ConfigError
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.nb201_table import NB201Table
from cnnlab.nas.run import search
from cnnlab.nas.strategies import STRATEGIES

TRIALS = 30


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_strategy_searches_the_table_on_the_engine(tmp_path, strategy):
    table = NB201Table.load()
    result = search(space="nb201", strategy=strategy, trials=TRIALS, data="nb201:cifar100", out=str(tmp_path),
                    progress=False, seed=3, noise=0.5)
    assert result.completed == TRIALS
    index = table.index(result.best_genotype["arch"])
    # the study's best score is the table's accuracy of that cell plus the run's noise draw for it
    assert result.best_value == pytest.approx(table.noisy_scores("cifar100", 0.5, 3)[index] / 100)
    assert json.loads((tmp_path / "best.json").read_text()) == result.best_genotype
    # 30 of 15,625 cells: every strategy returns a cell better than the median cell of the table
    assert table.accuracy(index, "cifar100") > sorted(table.accuracies("cifar100"))[len(table) // 2]


def test_exact_scores_are_the_table_and_the_search_resumes_to_more_trials(tmp_path):
    table = NB201Table.load()
    common = {"space": "nb201", "strategy": "local", "data": "nb201:imagenet16-120", "out": str(tmp_path),
              "progress": False}
    first = search(trials=12, **common)
    more = search(trials=24, **common)
    assert (first.completed, more.completed, more.run_by_this_worker) == (12, 24, 24)  # the worker's state resumed
    assert more.best_value >= first.best_value
    assert more.best_value == table.accuracy(more.best_genotype["arch"], "imagenet16-120") / 100


def test_the_cli_prints_the_best_cells_table_accuracy(tmp_path):
    from typer.testing import CliRunner

    from cnnlab.cli.main import app

    ran = CliRunner().invoke(app, ["search", "--space", "nb201", "--strategy", "evolution", "--data",
                                   "nb201:cifar10", "--noise", "0.5", "--trials", "20", "--out", str(tmp_path),
                                   "--no-progress"])
    assert ran.exit_code == 0, ran.output
    genotype = json.loads((tmp_path / "best.json").read_text())
    table = NB201Table.load()
    index = table.index(genotype["arch"])
    assert f"NB201 index {index}, test accuracy {table.accuracy(index, 'cifar10'):.2f} % on cifar10" in ran.output
    assert "the table's optimum: 94.37 %, index 6111" in ran.output


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data": "nb201:imagenet"}, "NAS-Bench-201 dataset must be one of .*'imagenet16-120'.*got 'imagenet'"),
    ({"data": "nb201:cifar10", "space": "micro"}, "needs --space nb201, not --space 'micro'"),
    ({"data": "toy", "noise": 0.5}, "--noise 0.5 applies to a score read from a table"),
    ({"data": "nb201:cifar10", "noise": -1.0}, "--noise must be a number in"),
    ({"data": "nb201:cifar10", "strategy": "bayes"}, "--strategy must be one of"),
    ({"data": "cifar-10"}, "--data must be one of"),
])
def test_bad_tabular_searches_are_config_errors(tmp_path, kwargs, message):
    args = {"space": "nb201", "trials": 2, "out": str(tmp_path), "progress": False, **kwargs}
    with pytest.raises(ConfigError, match=message):
        search(**args)
    assert not list(tmp_path.iterdir())  # refused before any file is written


def test_a_study_keeps_its_noise(tmp_path):
    search(space="nb201", trials=3, data="nb201:cifar10", noise=0.5, out=str(tmp_path), progress=False)
    with pytest.raises(ConfigError, match="noise=0.5, this command gives noise=0.2"):
        search(space="nb201", trials=6, data="nb201:cifar10", noise=0.2, out=str(tmp_path), progress=False)


def test_the_child_budget_is_the_one_source_of_epochs(tmp_path):
    with pytest.raises(ConfigError, match="--epochs-per-trial 2 disagrees with the child budget's epochs=1"):
        search(space="micro", data="toy", trials=2, epochs_per_trial=2, budget=ChildBudget(epochs=1),
               out=str(tmp_path), progress=False)
    result = search(space="micro", data="toy", trials=2, budget=ChildBudget(epochs=3), out=str(tmp_path),
                    progress=False, study="s")
    from cnnlab.nas.storage import make_storage, open_study

    settings = open_study("s", make_storage(None, str(tmp_path)), load_only=True).user_attrs["settings"]
    assert result.completed == 2 and settings["epochs_per_trial"] == 3
