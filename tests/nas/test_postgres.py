"""`cnnlab search` workers on one study in a real PostgreSQL server: started at the same instant on
a fresh database they share the trials and count each once; one killed mid-trial, the others finish
its trial; a second worker with a name already running is refused. The test starts the server itself (Debian's postgresql: initdb + pg_ctl on a free
loopback port, socket and data in a temp dir, run as the `postgres` user when the test is root)."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from cnnlab.nas.state import load_state
from cnnlab.nas.storage import make_storage

TRIALS = 8


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server():
    """A throw-away PostgreSQL server on a free loopback port; yields its base URL (no database)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg2")
    root = tempfile.mkdtemp(prefix="cnnlab-pg-")
    data, port = os.path.join(root, "data"), _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            pytest.skip("running as root without a `postgres` user to start the server as")
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    # max_connections: each worker process holds its own pool (a margin over the default 100)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400"
    subprocess.run([*as_user, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_base():
    with postgres_server() as base:
        yield base


@pytest.fixture
def postgres_url(postgres_base):
    """A fresh, empty database on the module's server (no Optuna schema yet)."""
    import sqlalchemy

    name = f"t{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(f"{postgres_base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"{postgres_base}/{name}"


def _worker(url, out, name, space=("--space", "micro"), trials=TRIALS, toy_seconds="0.5"):
    cmd = [sys.executable, "-m", "cnnlab.cli.main", "search", *space, "--strategy", "evolution",
           "--trials", str(trials), "--data", "toy", "--toy-seconds", toy_seconds, "--storage", url,
           "--study", "shared", "--out", str(out), "--worker", name, "--heartbeat-s", "1", "--no-progress"]
    return subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _trials(url, study="shared"):
    """The study's trials through a storage whose connections are closed at once: ``load_study(storage=url)``
    builds a new engine per call, and a polling loop of them ran the server out of connections."""
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).get_trials()
    finally:
        storage.engine.dispose()


def test_schema_creation_is_safe_under_a_race(postgres_url):
    """Four workers open a fresh database at the same instant: Optuna's table creation collides
    (UniqueViolation on pg_type) unless the opening retries."""
    barrier, errors = threading.Barrier(4), []

    def open_storage():
        barrier.wait()
        try:
            make_storage(postgres_url, "unused", heartbeat_s=1)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_storage) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert optuna.get_all_study_names(postgres_url) == []  # the schema is there and usable


@pytest.mark.slow
def test_two_workers_started_at_once_on_a_fresh_database(postgres_url, tmp_path):
    workers = [_worker(postgres_url, tmp_path / name, name) for name in ("a", "b")]
    outputs = [w.communicate(timeout=180)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    trials = _trials(postgres_url)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TRIALS
    assert all(t.user_attrs.get("surplus") for t in trials if t.state != TrialState.COMPLETE)
    by_worker = {w: sum(t.user_attrs["worker"].endswith(f":{w}") for t in complete) for w in ("a", "b")}
    assert by_worker["a"] > 0 and by_worker["b"] > 0  # both worked on the one study
    ran = [int(re.search(r"\((\d+) by this worker\)", out).group(1)) for out in outputs]
    assert sum(ran) == TRIALS and sorted(ran) == sorted(by_worker.values())  # each trial counted once
    # each worker waited for the other's last trial and learned from every completed trial
    observed = [set(load_state(next((tmp_path / w).glob("state-*.pt")))["observed"]) for w in ("a", "b")]
    assert observed == [{t.number for t in complete}] * 2


@pytest.mark.slow
def test_sigkill_one_worker_mid_trial_the_survivors_finish(postgres_url, tmp_path, budget_met_once):
    """Optuna's heartbeat finds the dead worker's trial; a survivor fails it and runs its architecture
    again; the study reaches its budget with no architecture evaluated twice."""
    nasnet = ("--space", "nasnet", "--blocks", "2")  # 2e15 architectures: no duplicate by chance
    workers = {name: _worker(postgres_url, tmp_path / name, name, space=nasnet) for name in ("a", "b", "c")}
    running = _wait_for_trial_of(workers["a"], "a", postgres_url, completed=2)
    workers["a"].send_signal(signal.SIGKILL)
    workers["a"].wait()
    outputs = [workers[name].communicate(timeout=180)[0] for name in ("b", "c")]
    assert [workers[name].returncode for name in ("b", "c")] == [0, 0], outputs
    budget_met_once(_trials(postgres_url), TRIALS,
                    running.number)


@pytest.mark.slow
def test_a_second_worker_with_the_same_name_is_refused(postgres_url, tmp_path):
    first = _worker(postgres_url, tmp_path / "one", "a", trials=100, toy_seconds="1")
    try:
        _wait_for_trial_of(first, "a", postgres_url)
        second = subprocess.run(
            [sys.executable, "-m", "cnnlab.cli.main", "search", "--space", "micro", "--strategy", "evolution",
             "--trials", "100", "--data", "toy", "--storage", postgres_url, "--study", "shared", "--out",
             str(tmp_path / "two"), "--worker", "a", "--no-progress"], capture_output=True, text=True, timeout=90)
        assert second.returncode == 2, second.stdout + second.stderr
        assert second.stderr.startswith("error:") and "--worker 'a' is already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.kill()
        first.wait()


def _wait_for_trial_of(proc, name, url, completed=0):
    """The RUNNING trial of worker ``name`` once the study holds ``completed`` COMPLETE trials."""
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"worker {name} did not start a trial in time"
        try:
            trials = _trials(url)
        except (KeyError, Exception):  # noqa: BLE001 - no schema or no study yet
            trials = []
        running = [t for t in trials
                   if t.state == TrialState.RUNNING and t.user_attrs.get("worker", "").endswith(f":{name}")]
        if running and sum(t.state == TrialState.COMPLETE for t in trials) >= completed:
            return running[0]
        time.sleep(0.05)


def test_a_trial_that_never_beat_is_run_again(postgres_url, tmp_path):
    import datetime

    from cnnlab.nas.run import search
    from cnnlab.nas.storage import open_study

    storage = make_storage(postgres_url, tmp_path)
    study = open_study("s", storage)
    template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={
        "worker": "gone:/old:x", "strategy": "random", "tokens": [1, 2, 3], "genotype": {"space": "micro"}})
    template.datetime_start = datetime.datetime.now() - datetime.timedelta(minutes=5)
    storage.create_new_trial(study._study_id, template_trial=template)
    result = search(space="micro", trials=3, data="toy", storage=postgres_url, out=str(tmp_path), study="s",
                    progress=False, heartbeat_s=1)
    assert result.completed == 3
    trials = _trials(postgres_url, "s")
    assert trials[0].state == TrialState.FAIL
    assert [t.user_attrs["tokens"] for t in trials if t.user_attrs.get("retry_of") == 0] == [[1, 2, 3]]
