"""SIGKILL a running `cnnlab search` and start it again with the same command: completed trials are
kept and not re-run, the interrupted trial is marked FAIL and its architecture evaluated again, the
strategy's state carries over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from cnnlab.nas.state import load_state
from cnnlab.nas.storage import make_storage

TRIALS = 8


def _command(out, strategy):
    return [sys.executable, "-m", "cnnlab.cli.main", "search", "--space", "nasnet", "--blocks", "2",
            "--strategy", strategy, "--trials", str(TRIALS), "--data", "toy", "--toy-seconds", "0.5",
            "--study", "killed", "--out", str(out), "--no-progress"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _trials(out, *states):
    try:
        study = optuna.load_study(study_name="killed", storage=make_storage(None, out))
    except KeyError:
        return []
    return study.get_trials(states=states or None)


def _complete(out):
    return _trials(out, TrialState.COMPLETE)


def _running_trial_of_a_worker(out):
    return [t for t in _trials(out, TrialState.RUNNING) if "worker" in t.user_attrs]


@pytest.mark.parametrize("strategy", ["evolution", "reinforce"])
def test_sigkill_then_same_command_resumes(tmp_path, strategy):
    proc = subprocess.Popen(_command(tmp_path, strategy), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(_complete(tmp_path)) < 3 or not (running := _running_trial_of_a_worker(tmp_path)):
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "search did not complete 3 trials in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # inside a trial, unless it finished in the last milliseconds
    proc.wait()
    killed_number = running[0].number
    before = {t.number: (t.value, t.user_attrs["tokens"]) for t in _complete(tmp_path)}
    assert 3 <= len(before) < TRIALS

    rerun = subprocess.run(_command(tmp_path, strategy), env=_env(), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    study = optuna.load_study(study_name="killed", storage=make_storage(None, tmp_path))
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TRIALS  # none lost, none run twice
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    for number, (value, tokens) in before.items():  # kept as they were
        assert (trials[number].value, trials[number].user_attrs["tokens"]) == (value, tokens)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    if trials[killed_number].state == TrialState.COMPLETE:  # it finished just before the kill
        assert failed == [] and killed_number in before
    else:  # marked FAIL on restart, its architecture evaluated again in a later trial
        assert [t.number for t in failed] == [killed_number], [t.user_attrs for t in failed]
    for killed in failed:
        assert killed.user_attrs.get("interrupted"), killed.user_attrs
        assert any(c.user_attrs["tokens"] == killed.user_attrs["tokens"] and c.number > killed.number for c in complete)

    state = load_state(next(tmp_path.glob("state-killed-*.pt")))
    assert state["observed"] == sorted(t.number for t in complete) and state["pending"] is None
    if strategy == "evolution":  # the population is the last P completed trials, oldest first
        size = len(state["strategy"]["population"])
        assert [tok for tok, _ in state["strategy"]["population"]] == [
            t.user_attrs["tokens"] for t in complete[-size:]]
    else:
        assert state["strategy"]["baseline"] is not None and state["strategy"]["optimizer"]["state"]


def _wait_then_kill(proc, out, ready, what):
    deadline = time.monotonic() + 240
    while not ready() or not (running := _running_trial_of_a_worker(out)):
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, f"search did not reach {what} in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return running[0].number


def _finished(out):
    return {t.number: (t.state, t.values, t.intermediate_values, t.user_attrs["tokens"])
            for t in _trials(out, TrialState.COMPLETE, TrialState.PRUNED)}


def test_sigkill_of_a_multi_objective_search_then_same_command_resumes(tmp_path):
    """accuracy and parameters: the completed trials keep both values, the rerun finishes the budget and writes
    the Pareto set of all of them."""
    command = [*_command(tmp_path, "evolution"), "--space", "micro", "--objective", "accuracy,params"]
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed_number = _wait_then_kill(proc, tmp_path, lambda: len(_complete(tmp_path)) >= 3, "3 trials")
    before = _finished(tmp_path)
    assert 3 <= len(before) < TRIALS and all(len(v[1]) == 2 for v in before.values())
    rerun = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    study = optuna.load_study(study_name="killed", storage=make_storage(None, tmp_path))
    trials = study.get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == TRIALS
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    for number, finished in before.items():
        assert _finished(tmp_path)[number] == finished
    if trials[killed_number].state == TrialState.FAIL:
        assert trials[killed_number].user_attrs.get("interrupted")
    front = json.loads((tmp_path / "pareto.json").read_text())["pareto"]
    assert sorted(r["trial"] for r in front) == sorted(t.number for t in study.best_trials)
    assert "Pareto set of study killed" in rerun.stdout



def test_sigkill_of_a_pruned_search_then_same_command_resumes(tmp_path):
    """Children on digits under successive halving: pruned trials survive the kill as they were (PRUNED,
    their per-epoch accuracies), and the rerun trains the rest of the budget (completed + pruned)."""
    command = [sys.executable, "-m", "cnnlab.cli.main", "search", "--space", "micro", "--strategy", "random",
               "--trials", str(TRIALS), "--data", "digits", "--epochs-per-trial", "3", "--limit-train", "160",
               "--C", "4", "--pruner", "sha", "--no-channels-last", "--study", "killed", "--out", str(tmp_path),
               "--no-progress"]
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _wait_then_kill(proc, tmp_path, lambda: bool(_trials(tmp_path, TrialState.PRUNED)) and bool(_complete(tmp_path)),
                    "a pruned and a completed trial")
    before = _finished(tmp_path)
    assert any(state == TrialState.PRUNED for state, *_ in before.values())
    rerun = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = _finished(tmp_path)
    assert len(after) == TRIALS  # trained children: completed and pruned
    for number, finished in before.items():  # none lost, none rerun
        assert after[number] == finished
    assert not _trials(tmp_path, TrialState.RUNNING)
    state = load_state(next(tmp_path.glob("state-killed-*.pt")))
    assert state["observed"] == sorted(after) and state["pending"] is None  # the strategy learnt every one
