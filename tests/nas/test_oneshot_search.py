"""``--strategy oneshot`` end to end on digits: the supernet trained once, cached and resumed exactly after a
kill, children scored by inherited weights through the engine; bad input is one ConfigError naming the value."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from cnnlab.data import make_loaders
from cnnlab.errors import ConfigError
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.nb201_arch import validate_nb201
from cnnlab.nas.oneshot import (
    NB201Supernet,
    PathTraining,
    calibration_batches,
    inherited_accuracy,
    train_supernet,
)
from cnnlab.nas.oneshot.search import check_oneshot_options, oneshot_search, search_from_options

BUDGET = ChildBudget(C=2, N=1, batch_size=64, limit_train=192, seed=0)


def _digits():
    return make_loaders("digits", batch_size=64, val_fraction=0.1, seed=0, limit_train=192, limit_val=64,
                        limit_test=1)


def _supernet():
    torch.manual_seed(0)
    return NB201Supernet(num_classes=10, in_chans=1, C=2, N=1)


class _Kill(BaseException):
    """Stands for a SIGKILL after an epoch was logged and before its checkpoint was written."""


def test_supernet_training_resumes_exactly_after_a_kill(tmp_path):
    bundle = _digits()
    budget = PathTraining(epochs=3, seed=1)
    whole = _supernet()
    train_supernet(whole, bundle.train, budget, out=tmp_path / "a")

    def kill_at_third(text: str) -> None:
        if text.startswith("supernet epoch 3/3"):
            raise _Kill

    with pytest.raises(_Kill):
        train_supernet(_supernet(), bundle.train, budget, out=tmp_path / "b", log=kill_at_third)
    resumed = _supernet()
    info = train_supernet(resumed, bundle.train, budget, out=tmp_path / "b")
    assert info["epochs_run"] == 1
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    loaded = _supernet()
    assert train_supernet(loaded, bundle.train, budget, out=tmp_path / "b")["epochs_run"] == 0
    with pytest.raises(ConfigError, match="epochs: 3 there, 4 here"):
        train_supernet(_supernet(), bundle.train, PathTraining(epochs=4, seed=1), out=tmp_path / "b")


def test_oneshot_search_end_to_end_on_digits(tmp_path):
    kwargs = dict(data="digits", out=str(tmp_path), budget=BUDGET, supernet_epochs=1, bn_batches=2, limit_val=64,
                  progress=False)
    result = oneshot_search(trials=3, **kwargs)
    assert result.completed == 3 and result.study_name == "nb201-oneshot-digits"
    assert (tmp_path / "supernet.pt").is_file()
    best = json.loads((tmp_path / "best.json").read_text())
    assert validate_nb201(best)["arch"] == result.best_genotype["arch"]
    # the study's score of the best cell is its inherited-weight accuracy, recomputed here from the cached supernet
    bundle = _digits()
    supernet = NB201Supernet(num_classes=10, in_chans=1, C=2, N=1)
    supernet.load_state_dict(torch.load(tmp_path / "supernet.pt", weights_only=True)["model"])
    supernet.eval()
    score = inherited_accuracy(supernet, best["arch"], calibration_batches(bundle.train, 2), bundle.val)
    assert score == pytest.approx(result.best_value, abs=1e-12)
    # the same command with a larger budget loads the supernet (not retrained) and adds trials
    stamp = (tmp_path / "supernet.pt").stat().st_mtime_ns
    more = oneshot_search(trials=5, **kwargs)
    assert more.completed == 5 and (tmp_path / "supernet.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="epochs: 1 there, 2 here"):
        oneshot_search(trials=6, **{**kwargs, "supernet_epochs": 2})


@pytest.mark.parametrize(("options", "named"), [
    ({"space": "nasnet", "data": "digits"}, "'nasnet'"),
    ({"space": "nb201", "data": "nb201:cifar10"}, "'nb201:cifar10'"),
    ({"space": "nb201", "data": "toy"}, "'toy'"),
    ({"space": "nb201", "data": "digits", "noise": 0.5}, "0.5"),
    ({"space": "nb201", "data": "digits", "epochs_per_trial": 3}, "--epochs-per-trial 3"),
    ({"space": "nb201", "data": "digits", "supernet_epochs": 0}, "--supernet-epochs"),
    ({"space": "nb201", "data": "digits", "bn_batches": -1}, "bn_batches"),
    ({"space": "nb201", "data": "digits", "searcher": "annealing"}, "'annealing'"),
    ({"space": "nb201", "data": "digits", "channels_last": True}, "True"),
])
def test_bad_options_are_config_errors_naming_the_value(options, named):
    with pytest.raises(ConfigError, match="oneshot") as info:
        check_oneshot_options(**options)
    assert named in str(info.value)


@pytest.mark.parametrize(("options", "named"), [
    ({"pruner": "sha"}, "'sha'"), ({"objectives": "accuracy,macs"}, "'accuracy,macs'"),
    ({"prefilter": "synflow:8"}, "'synflow:8'"), ({"toy_seconds": 1.0}, "1.0"), ({"unheard_of": 3}, "unheard_of"),
])
def test_options_of_other_searches_are_refused(options, named, tmp_path):
    with pytest.raises(ConfigError) as info:
        search_from_options(10, space="nb201", data="digits", out=str(tmp_path), **options)
    assert named in str(info.value)


def test_cli_oneshot_errors_are_one_line():
    from cnnlab.cli.main import app

    ran = CliRunner().invoke(app, ["search", "--strategy", "oneshot", "--space", "micro", "--data", "digits"])
    assert ran.exit_code == 2 and "--space 'micro'" in ran.output and "Traceback" not in ran.output
    ran = CliRunner().invoke(app, ["search", "--strategy", "oneshot", "--space", "nb201", "--supernet-epochs", "0"])
    assert ran.exit_code == 2 and "--supernet-epochs must be ≥ 1, got 0" in ran.output


def test_the_search_api_runs_the_oneshot_strategy(tmp_path):
    # cnnlab.nas.search(strategy="oneshot") is the CLI's --strategy oneshot, not a ConfigError
    from cnnlab.nas import search

    result = search(space="nb201", strategy="oneshot", data="digits", trials=2, out=str(tmp_path), budget=BUDGET,
                    supernet_epochs=1, progress=False)
    assert result.completed == 2 and result.study_name == "nb201-oneshot-digits"
    assert json.loads((tmp_path / "best.json").read_text())["arch"] == result.best_genotype["arch"]
    with pytest.raises(ConfigError, match="--pruner 'sha'"):
        search(space="nb201", strategy="oneshot", data="digits", trials=2, out=str(tmp_path), budget=BUDGET,
               supernet_epochs=1, progress=False, pruner="sha")
