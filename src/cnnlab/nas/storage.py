"""Where a search keeps its trials, and what makes several workers safe on it.

- Storage: a journal file (default ``<out>/optuna-journal.log``) or any Optuna RDB URL. Several
  workers may open a fresh database at the same instant: Optuna's schema creation races (one of
  them hits ``UniqueViolation``), so opening retries until the schema is there.
- Heartbeats: a worker beats for the trial it runs; a RUNNING trial whose beats stopped for
  ``GRACE_BEATS`` intervals belongs to a dead worker. Optuna's heartbeat does this on an RDB
  (``heartbeat_interval``, ``grace_period``, the stale-trial callback, ``fail_stale_trials``);
  :class:`HeartbeatJournalStorage` is the same protocol on the journal file (the beat is a trial
  system attr holding the writer's clock). A RUNNING trial that never beat is stale once it started
  longer ago than the grace period (both storages). The stale-trial callback :func:`requeue` puts
  the architecture back as a WAITING trial, which the next free worker claims.
- Worker names: :func:`hold_worker_name` makes a worker name unique per study while it runs
  (a PostgreSQL advisory lock, else a file lock beside the journal / in ``--out``).
"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import os
import random
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

from cnnlab.errors import ConfigError
from cnnlab.locks import HeldLock, hold_file_lock

__all__ = ["HEARTBEAT_S", "GRACE_BEATS", "MAX_RETRIES", "HeartbeatJournalStorage", "HeartbeatRDBStorage",
           "journal_path",
           "make_storage", "open_study", "requeue", "hold_worker_name", "WorkerName"]

HEARTBEAT_S = 10  # seconds between a worker's beats
GRACE_BEATS = 5  # a trial is stale after this many missed beats (50 s by default)
MAX_RETRIES = 2  # an architecture whose worker died is run again at most this often
SCHEMA_ATTEMPTS = 12
_BEAT = "cnnlab:heartbeat"
_CARRIED = ("strategy", "tokens", "genotype")  # user attrs a retry inherits


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Put a stale or interrupted trial's architecture back as a WAITING trial (at most
    ``MAX_RETRIES`` times), so that exactly one worker claims it and evaluates it again."""
    if "tokens" not in trial.user_attrs:
        return
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRIES:
        return
    attrs = {k: trial.user_attrs[k] for k in _CARRIED if k in trial.user_attrs}
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, user_attrs={**attrs, "retry_of": trial.number},
        system_attrs={"failed_trial": history[0], "retry_history": history}))


class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
    """A journal storage with Optuna's heartbeat protocol (RDBStorage has it built in)."""

    def __init__(self, backend: Any, heartbeat_interval: int, grace_period: int) -> None:
        super().__init__(backend)
        self.heartbeat_interval, self.grace_period = heartbeat_interval, grace_period

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, _BEAT, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now, stale = time.time(), []
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = t.system_attrs.get(_BEAT)
            if beat is None and t.datetime_start is not None:  # never beat (a worker older than heartbeats)
                beat = t.datetime_start.timestamp()
            if beat is not None and now - beat > self.grace_period:
                stale.append(t._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self):
        return requeue

    def get_failed_trial_callback(self):  # the name Optuna < 4.9 asks for
        return requeue


class HeartbeatRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage, whose heartbeat ignores a RUNNING trial that never beat; here such a
    trial (left by a worker older than heartbeats, or killed between creating its trial and its
    first beat) is stale too once it started longer ago than the grace period, as on the journal."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        try:
            from optuna.storages._rdb import models
        except ImportError:  # a later Optuna moved its tables: only trials with beats are found
            return stale
        session = self.scoped_session()
        try:
            beating = session.query(models.TrialHeartbeatModel.trial_id)
            never_beat = [trial_id for (trial_id,) in session.query(models.TrialModel.trial_id).filter(
                models.TrialModel.study_id == study_id, models.TrialModel.state == TrialState.RUNNING,
                models.TrialModel.trial_id.not_in(beating.scalar_subquery()))]
        finally:
            self.scoped_session.remove()
        started_before = datetime.datetime.now() - datetime.timedelta(seconds=self.grace_period)
        for trial_id in never_beat:
            start = self.get_trial(trial_id).datetime_start
            if trial_id not in stale and start is not None and start < started_before:
                stale.append(trial_id)
        return stale


def journal_path(url: str | None, out: str | os.PathLike[str]) -> Path | None:
    """The journal file a storage argument means, or None for an RDB URL."""
    if url is None:
        return Path(out) / "optuna-journal.log"
    if url.startswith("journal:") or url.endswith(".log"):
        return Path(url.removeprefix("journal:"))
    return None


def make_storage(url: str | None, out: str | os.PathLike[str], heartbeat_s: int | None = None,
                 must_exist: bool = False) -> optuna.storages.BaseStorage:
    """``None`` → the journal ``<out>/optuna-journal.log``; a ``.log`` path → that journal; else an
    Optuna RDB URL. ``heartbeat_s`` turns on heartbeats; ``must_exist`` refuses to create a journal."""
    path = journal_path(url, out)
    if path is None:
        return _open_rdb(url, heartbeat_s)
    flag = "--out" if url is None else "--storage"
    if must_exist and not path.is_file():
        raise ConfigError(f"{flag} {str(out if url is None else url)!r}: no search journal at {str(path)!r} "
                          "(run `cnnlab search` with this --out first, or give --storage)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a worker killed while holding the journal's lock blocks the others until the lock is this
        # old (Optuna's default is 30 s); appends take milliseconds, so 10 s is safely stale
        lock = optuna.storages.journal.JournalFileOpenLock(f"{path}.lock", grace_period=10)
        backend = optuna.storages.journal.JournalFileBackend(str(path), lock_obj=lock)
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot open the search journal {str(path)!r}: {exc.strerror or exc}") from None
    if heartbeat_s is None:
        return optuna.storages.JournalStorage(backend)
    return HeartbeatJournalStorage(backend, heartbeat_s, GRACE_BEATS * heartbeat_s)


def _open_rdb(url: str, heartbeat_s: int | None) -> optuna.storages.BaseStorage:
    import sqlalchemy.exc

    kwargs: dict[str, Any] = {"engine_kwargs": {"pool_pre_ping": True}}
    if heartbeat_s is not None:
        params = inspect.signature(optuna.storages.RDBStorage).parameters
        callback = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else \
            "failed_trial_callback"
        kwargs.update(heartbeat_interval=heartbeat_s, grace_period=GRACE_BEATS * heartbeat_s, **{callback: requeue})
    last: Exception | None = None
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return HeartbeatRDBStorage(url, **kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            # another worker is creating the schema at this instant (UniqueViolation, DuplicateTable)
            last = exc
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        except Exception as exc:  # a bad URL or an unreachable server: say which
            raise ConfigError(f"--storage {url!r}: cannot open the Optuna storage: {_first_line(exc)}") from None
    raise ConfigError(f"--storage {url!r}: the Optuna schema could not be created: {_first_line(last)}")


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_study(name: str, storage: optuna.storages.BaseStorage, load_only: bool = False) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if load_only:
        try:
            return optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise ConfigError(f"--study {name!r} does not exist in this storage") from None
    return optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)


WorkerName = HeldLock  # a worker name held for one study while the worker runs (cnnlab.locks)


def hold_worker_name(url: str | None, out: str | os.PathLike[str], study: str, name: str) -> WorkerName:
    """Refuse (ConfigError) a second live worker with the same name on the same study."""
    digest = hashlib.sha1(f"cnnlab-worker\0{study}\0{name}".encode()).digest()
    refused = (f"--worker {name!r} is already running on study {study!r}{{where}}; "
               "give each worker of a study its own --worker name")
    path = journal_path(url, out)
    if path is None and _backend_name(url) == "postgresql":
        return _hold_advisory_lock(url, int.from_bytes(digest[:8], "big", signed=True), refused)
    lock_dir = path.parent if path is not None else Path(out)
    lock_file = lock_dir / f".{path.name if path is not None else 'rdb'}.worker-{digest.hex()[:16]}.lock"
    return hold_file_lock(lock_file, refused, what="worker lock")


def _backend_name(url: str) -> str:
    import sqlalchemy.engine

    try:
        return sqlalchemy.engine.make_url(url).get_backend_name()
    except Exception:
        return ""


def _hold_advisory_lock(url: str, key: int, refused: str) -> WorkerName:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        connection = engine.connect()
        held = connection.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        connection.commit()  # the session-level lock outlives the transaction
    except Exception as exc:
        engine.dispose()
        raise ConfigError(f"--storage {url!r}: cannot reach the database: {_first_line(exc)}") from None
    if not held:
        connection.close()
        engine.dispose()
        raise ConfigError(refused.format(where=" (another process holds its PostgreSQL advisory lock)"))

    def release() -> None:
        connection.close()  # ends the session, which releases the advisory lock
        engine.dispose()

    return WorkerName(release)
