"""The engine in-process: a stopped search resumes to the same study, trials are counted once,
and a restart with different settings is refused."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from cnnlab.errors import ConfigError
from cnnlab.nas.report import best_so_far, search_report
from cnnlab.nas.run import search
from cnnlab.nas.state import load_state
from cnnlab.nas.storage import make_storage


def _trials(out, study):
    return optuna.load_study(study_name=study, storage=make_storage(None, out)).get_trials()


def test_search_resumes_and_counts_trials_once(tmp_path):
    common = {"space": "nasnet", "strategy": "evolution", "data": "toy", "blocks": 2, "out": str(tmp_path),
              "study": "s", "progress": False}
    first = search(trials=5, **common)
    assert first.completed == 5 and first.run_by_this_worker == 5
    second = search(trials=12, **common)
    assert second.completed == 12 and second.run_by_this_worker == 12
    trials = _trials(tmp_path, "s")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 12
    again = search(trials=12, **common)  # nothing left to do
    assert again.completed == 12 and len(_trials(tmp_path, "s")) == 12
    state = load_state(next(tmp_path.glob("state-s-*.pt")))
    assert state["observed"] == list(range(12)) and state["pending"] is None
    assert len(state["strategy"]["population"]) == 4  # population_size for a 12-trial budget


def test_restart_with_other_settings_is_refused(tmp_path):
    search(space="micro", strategy="random", trials=2, data="toy", out=str(tmp_path), study="s", progress=False)
    with pytest.raises(ConfigError, match="space"):
        search(space="nasnet", strategy="random", trials=2, data="toy", out=str(tmp_path), study="s",
               progress=False)


def test_report_writes_best_json_and_plot(tmp_path):
    for strategy in ("random", "evolution"):
        search(space="micro", strategy=strategy, trials=6, data="toy", out=str(tmp_path),
               study=f"micro-{strategy}", progress=False)
    report = search_report(["micro-random", "micro-evolution"], out=str(tmp_path))
    assert len(report.rows) == 12
    assert report.best.value == max(r.value for r in report.rows)
    assert (tmp_path / "best.json").read_text().strip().startswith("{")
    assert report.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert best_so_far([0.1, 0.3, 0.2, 0.5]) == [0.1, 0.3, 0.3, 0.5]
    with pytest.raises(ConfigError, match="missing"):
        search_report(["missing"], out=str(tmp_path))


def test_children_train_on_digits_with_the_trainer(tmp_path):
    from cnnlab.nas.evaluate import ChildBudget

    result = search(space="micro", strategy="random", trials=2, data="digits", out=str(tmp_path), progress=False,
                    budget=ChildBudget(epochs=1, limit_train=256, C=4))
    assert result.completed == 2 and 0.0 <= result.best_value <= 1.0
    trials = _trials(tmp_path, result.study_name)
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_cli_search_and_report(tmp_path):
    from typer.testing import CliRunner

    from cnnlab.cli.main import app

    runner = CliRunner()
    args = ["--space", "randwire", "--strategy", "reinforce", "--trials", "3", "--data", "toy", "--out",
            str(tmp_path), "--no-progress"]
    ran = runner.invoke(app, ["search", *args])
    assert ran.exit_code == 0, ran.output
    report = runner.invoke(app, ["search-report", "--study", "randwire-reinforce-toy", "--out", str(tmp_path)])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "best.json").is_file() and (tmp_path / "best_so_far.png").is_file()
    bad = runner.invoke(app, ["search", "--strategy", "annealing", "--data", "toy", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "strategy" in bad.output and "annealing" in bad.output


class _Crash(BaseException):
    """Stands for a SIGKILL inside a trial: nothing in the engine catches it."""


def test_trial_killed_mid_run_is_failed_and_its_architecture_rerun(tmp_path):
    from cnnlab.nas.engine import SearchConfig, run_search
    from cnnlab.nas.spaces import make_space
    from cnnlab.nas.strategies import make_strategy
    from cnnlab.nas.toy import toy_reward

    space = make_space("micro")
    config = SearchConfig(space="micro", strategy="reinforce", trials=6, data="toy", out=str(tmp_path), study="c")
    calls = []

    def objective(tokens, genotype):
        calls.append(list(tokens))
        if len(calls) == 4:
            raise _Crash
        return toy_reward(tokens, space.choices)

    with pytest.raises(_Crash):
        run_search(config, space, make_strategy("reinforce", space.choices), objective, progress=False)
    trials = _trials(tmp_path, "c")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3 + [TrialState.RUNNING]

    result = run_search(config, space, make_strategy("reinforce", space.choices, seed=123), objective,
                        progress=False)
    trials = _trials(tmp_path, "c")
    assert result.completed == 6
    assert trials[3].state == TrialState.FAIL and trials[3].user_attrs["interrupted"]
    assert trials[4].user_attrs["tokens"] == calls[3] == calls[4]  # the same architecture, evaluated again
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 6
