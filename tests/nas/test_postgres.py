"""Two `cnnlab search` workers on one study in a real PostgreSQL server share the trials and count
each once. The test starts the server itself (Debian's postgresql: initdb + pg_ctl on a free
loopback port, socket and data in a temp dir, run as the `postgres` user when the test is root)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import optuna
import pytest
import torch
from optuna.trial import TrialState

TRIALS = 8


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
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
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_study(postgres_url, tmp_path):
    optuna.storages.RDBStorage(postgres_url)  # create the schema once, as a deployment would
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = []
    for name in ("a", "b"):
        cmd = [sys.executable, "-m", "cnnlab.cli.main", "search", "--space", "micro", "--strategy", "evolution",
               "--trials", str(TRIALS), "--data", "toy", "--toy-seconds", "0.5", "--storage", postgres_url,
               "--study", "shared", "--out", str(tmp_path / name), "--worker", name, "--no-progress"]
        workers.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [w.communicate(timeout=180)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TRIALS
    assert all(t.user_attrs.get("surplus") for t in trials if t.state != TrialState.COMPLETE)
    by_worker = {w: sum(t.user_attrs["worker"].endswith(f":{w}") for t in complete) for w in ("a", "b")}
    assert by_worker["a"] > 0 and by_worker["b"] > 0  # both worked on the one study
    ran = [int(re.search(r"\((\d+) by this worker\)", out).group(1)) for out in outputs]
    assert sum(ran) == TRIALS and sorted(ran) == sorted(by_worker.values())  # each trial counted once
    # the worker that finished last learned from every completed trial, its own and the other's
    observed = [set(torch.load(next((tmp_path / w).glob("state-*.pt")), weights_only=False)["observed"])
                for w in ("a", "b")]
    assert max(observed, key=len) == {t.number for t in complete}
    assert min(len(o) for o in observed) >= TRIALS - 1
