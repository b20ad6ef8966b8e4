"""Several workers on one journal file: a worker name is held by one live process, and a worker
killed with SIGKILL mid-trial does not leave its trial RUNNING: the survivors see its heartbeat stop,
fail the trial, run its architecture again once, and the study reaches its budget."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from cnnlab.errors import ConfigError
from cnnlab.nas.run import search
from cnnlab.nas.storage import GRACE_BEATS, hold_worker_name, make_storage, open_study

TRIALS = 8


def _worker(journal, out, name, trials=TRIALS, toy_seconds="0.5"):
    cmd = [sys.executable, "-m", "cnnlab.cli.main", "search", "--space", "nasnet", "--blocks", "2", "--strategy",
           "evolution", "--trials", str(trials), "--data", "toy", "--toy-seconds", toy_seconds, "--storage",
           str(journal), "--study", "shared", "--out", str(out), "--worker", name, "--heartbeat-s", "1",
           "--no-progress"]
    return subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _study(storage):
    try:
        return optuna.load_study(study_name="shared", storage=storage)
    except KeyError:
        return None


def _wait_for(condition, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_a_worker_name_is_held_by_one_process(tmp_path):
    held = hold_worker_name(None, tmp_path, "s", "a")
    try:
        with pytest.raises(ConfigError, match="--worker 'a' is already running on study 's'.*pid"):
            search(space="micro", trials=2, data="toy", out=str(tmp_path), study="s", worker="a", progress=False)
        other = search(space="micro", trials=2, data="toy", out=str(tmp_path), study="s", worker="b", progress=False)
        assert other.completed == 2
    finally:
        held.release()
    assert search(space="micro", trials=3, data="toy", out=str(tmp_path), study="s", worker="a",
                  progress=False).completed == 3


def _fill(folder):
    try:
        with open(folder / "filler", "wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError:  # the disk is full
        pass


@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_a_worker_lock_that_cannot_be_written_is_a_config_error_naming_it(mounts, read_only_folder, disk):
    """A full disk used to let ENOSPC from the lock's note escape as a traceback (a read-only one EROFS)."""
    if disk == "full":
        out = mounts(32)
        _fill(out)
    else:
        out = read_only_folder
    with pytest.raises(ConfigError, match=rf"cannot write the worker lock '{out}/\.optuna-journal\.log\.worker-"):
        hold_worker_name(None, out, "s", "a")


@pytest.mark.slow
def test_the_same_name_on_a_shared_journal_is_refused(tmp_path):
    """Two --out folders, one journal: the name is per study, not per folder."""
    journal = tmp_path / "shared.log"
    first = _worker(journal, tmp_path / "one", "a", trials=100, toy_seconds="1")
    try:
        _wait_for(lambda: (s := _study(make_storage(str(journal), tmp_path))) and s.get_trials(), first)
        second = subprocess.run(
            [sys.executable, "-m", "cnnlab.cli.main", "search", "--space", "nasnet", "--blocks", "2", "--strategy",
             "evolution", "--trials", "4", "--data", "toy", "--storage", str(journal), "--study", "shared",
             "--out", str(tmp_path / "two"), "--worker", "a", "--no-progress"],
            capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stdout + second.stderr
        assert second.stderr.startswith("error:") and "--worker 'a' is already running" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_stale_trial_is_failed_and_requeued_once(tmp_path):
    storage = make_storage(None, tmp_path, heartbeat_s=1)
    study = open_study("s", storage)
    attrs = {"worker": "dead", "strategy": "random", "tokens": [1, 2, 3], "genotype": {"space": "micro"}}
    trial_id = storage.create_new_trial(study._study_id, optuna.trial.create_trial(state=TrialState.RUNNING,
                                                                                    user_attrs=attrs))
    storage.record_heartbeat(trial_id)
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        optuna.storages.fail_stale_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING]  # beat a moment ago: alive
    storage.set_trial_system_attr(trial_id, "cnnlab:heartbeat", time.time() - GRACE_BEATS - 1)
    for _ in range(2):  # a second worker checking at the same time finds nothing more to do
        with pytest.warns(optuna.exceptions.ExperimentalWarning):
            optuna.storages.fail_stale_trials(study)
    dead, retry = study.get_trials()
    assert dead.state == TrialState.FAIL and retry.state == TrialState.WAITING
    assert retry.user_attrs == {"strategy": "random", "tokens": [1, 2, 3], "genotype": {"space": "micro"},
                                "retry_of": 0}


@pytest.mark.slow
def test_sigkill_one_worker_the_other_finishes_the_study(tmp_path, budget_met_once):
    journal = tmp_path / "shared.log"
    workers = {name: _worker(journal, tmp_path / name, name) for name in ("a", "b")}
    storage = make_storage(str(journal), tmp_path)

    def a_is_mid_trial():
        study = _study(storage)
        if study is None:
            return None
        trials = study.get_trials()
        running = [t for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("worker", "").endswith(":a")]
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        return running[0] if running and len(done) >= 2 else None

    running = _wait_for(a_is_mid_trial, workers["a"])
    workers["a"].send_signal(signal.SIGKILL)
    workers["a"].wait()
    out_b = workers["b"].communicate(timeout=120)[0]
    assert workers["b"].returncode == 0, out_b
    budget_met_once(_study(storage).get_trials(), TRIALS, running.number)
    trials = _study(storage).get_trials()
    if trials[running.number].state == TrialState.FAIL:  # b found it stale (not finished just before the kill)
        rerun = next(t for t in trials if t.user_attrs.get("retry_of") == running.number)
        assert rerun.user_attrs["worker"].endswith(":b")


def plant_orphan(storage, study_name, tokens):
    """A RUNNING trial that never beat, started 5 minutes ago: what a worker killed before heartbeats
    existed left behind (the survivors used to stop one trial short of the budget for ever)."""
    study = open_study(study_name, storage)
    template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={
        "worker": "gone:/old:x", "strategy": "random", "tokens": tokens, "genotype": {"space": "micro"}})
    template.datetime_start = datetime.datetime.now() - datetime.timedelta(minutes=5)
    storage.create_new_trial(study._study_id, template_trial=template)


def test_a_trial_that_never_beat_is_run_again(tmp_path, budget_met_once):
    plant_orphan(make_storage(None, tmp_path), "s", [1, 2, 3])
    result = search(space="micro", trials=TRIALS, data="toy", out=str(tmp_path), study="s", progress=False,
                    heartbeat_s=1)
    assert result.completed == TRIALS
    trials = optuna.load_study(study_name="s", storage=make_storage(None, tmp_path)).get_trials()
    assert trials[0].state == TrialState.FAIL
    assert [t.user_attrs["tokens"] for t in trials if t.user_attrs.get("retry_of") == 0] == [[1, 2, 3]]
