"""The search engine: cnnlab's strategies drive an Optuna study through ask/tell.

Trials live in the study's storage (a journal file in the run folder by default, or any Optuna
storage URL such as ``postgresql://...`` shared by several workers). Each worker keeps its
strategy's state (population, controller weights and optimizer, baseline, random state) in a file
written atomically after every step, together with the trial numbers it has learned from and the
architecture it is evaluating. Restarted after a SIGKILL with the same command, a worker
- marks its own trials left RUNNING as FAIL (attr ``interrupted``) and evaluates that architecture
  again in a new trial, unless the trial had completed;
- learns from every COMPLETE trial of the study it has not observed yet (its own last one, or other
  workers' trials), so no completed trial is lost or run twice.
A trial is created with its worker, strategy, tokens and genotype as user attrs in one storage
operation, so no trial is ever without an owner. A worker stops when the study holds ``trials``
COMPLETE trials, counting trials still RUNNING on other workers; a trial asked beyond the budget
is closed as FAIL (attr ``surplus``).
"""

from __future__ import annotations

import json
import socket
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from cnnlab.arith.checks import require_positive
from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError
from cnnlab.nas.spaces import SearchSpace
from cnnlab.nas.strategies import Strategy

__all__ = ["SearchConfig", "SearchResult", "open_study", "make_storage", "run_search"]

Objective = Callable[[list[int], dict[str, Any]], float]


@dataclass
class SearchConfig:
    """What identifies a search; the same values restart the same search."""

    space: str = "nasnet"
    strategy: str = "random"
    trials: int = 20
    data: str = "digits"
    epochs_per_trial: int = 1
    storage: str | None = None
    study: str | None = None
    out: str = "runs/search"
    seed: int = 0
    worker: str = "0"

    @property
    def study_name(self) -> str:
        return self.study or f"{self.space}-{self.strategy}-{self.data}"


@dataclass
class SearchResult:
    study_name: str
    storage: str
    completed: int
    best_value: float | None
    best_genotype: dict[str, Any] | None
    run_by_this_worker: int


def make_storage(url: str | None, out: str | Path) -> optuna.storages.BaseStorage:
    """``None`` → a journal file ``<out>/optuna-journal.log``; else an Optuna storage URL."""
    if url is None or url.startswith("journal:") or url.endswith(".log"):
        path = Path(out) / "optuna-journal.log" if url is None else Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # a worker killed while holding the journal's lock blocks the others until the lock is this
        # old (Optuna's default is 30 s); appends take milliseconds, so 10 s is safely stale
        lock = optuna.storages.journal.JournalFileOpenLock(f"{path}.lock", grace_period=10)
        backend = optuna.storages.journal.JournalFileBackend(str(path), lock_obj=lock)
        return optuna.storages.JournalStorage(backend)
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # a bad URL or an unreachable server: say which
        raise ConfigError(f"--storage {url!r}: cannot open the Optuna storage: {exc}") from None


def open_study(name: str, storage: optuna.storages.BaseStorage, load_only: bool = False) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if load_only:
        try:
            return optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise ConfigError(f"--study {name!r} does not exist in this storage") from None
    return optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)


def _check_study_settings(study: optuna.Study, settings: dict[str, Any]) -> None:
    """The first worker records the space and budget per trial; later workers must match them."""
    recorded = study.user_attrs.get("settings")
    if recorded is None:
        study.set_user_attr("settings", settings)
        return
    for key, value in settings.items():
        if recorded.get(key) != value:
            raise ConfigError(
                f"study {study.study_name!r} was started with {key}={recorded.get(key)!r}, "
                f"this command gives {key}={value!r}"
            )


class _Worker:
    """One worker's view: its identity, its strategy and the state file that makes it resumable."""

    def __init__(self, config: SearchConfig, space: SearchSpace, strategy: Strategy, study: optuna.Study) -> None:
        self.config, self.space, self.strategy, self.study = config, space, strategy, study
        self.id = f"{socket.gethostname()}:{Path(config.out).resolve()}:{config.worker}"
        tag = f"{zlib.crc32(self.id.encode()):08x}"
        self.state_path = Path(config.out) / f"state-{config.study_name}-{config.worker}-{tag}.pt"
        self.observed: set[int] = set()
        self.pending: list[int] | None = None
        self.pending_trial: int | None = None
        self.run_here = 0
        if self.state_path.is_file():
            state = torch.load(self.state_path, weights_only=False)
            self.strategy.load_state_dict(state["strategy"])
            self.observed = set(state["observed"])
            self.pending, self.pending_trial = state["pending"], state["pending_trial"]
            self.run_here = state.get("run_here", 0)

    def save(self) -> None:
        state = {"strategy": self.strategy.state_dict(), "observed": sorted(self.observed),
                 "pending": self.pending, "pending_trial": self.pending_trial, "run_here": self.run_here,
                 "worker": self.id, "config": asdict(self.config)}
        atomic_write(self.state_path, lambda tmp: torch.save(state, tmp))

    def recover(self) -> None:
        """Close this worker's interrupted trials; forget the pending architecture if it completed."""
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.user_attrs.get("worker") == self.id:
                self.study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
                self.study.tell(t.number, state=TrialState.FAIL)
        if self.pending_trial is not None:
            done = self.study._storage.get_trial(self.study._storage.get_trial_id_from_study_id_trial_number(
                self.study._study_id, self.pending_trial)).state == TrialState.COMPLETE
            if done:
                self.pending, self.pending_trial = None, None
        self.save()

    def sync(self) -> list[optuna.trial.FrozenTrial]:
        """Learn from every COMPLETE trial not yet observed, in trial order; return all trials."""
        trials = self.study.get_trials(deepcopy=False)
        new = [t for t in trials if t.state == TrialState.COMPLETE and t.number not in self.observed]
        for t in sorted(new, key=lambda t: t.number):
            self.strategy.observe(list(t.user_attrs["tokens"]), float(t.value))
            self.observed.add(t.number)
        if new:
            self.save()
        return trials

    def _ask(self, user_attrs: dict[str, Any]) -> optuna.trial.Trial:
        """``study.ask()`` with the user attrs written in the same storage operation, so a trial
        never exists without its worker, even when the worker dies right after creating it."""
        template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs=user_attrs)
        trial_id = self.study._storage.create_new_trial(self.study._study_id, template_trial=template)
        return optuna.trial.Trial(self.study, trial_id)

    def step(self, objective: Objective) -> bool:
        """Evaluate one architecture; False once the study has its budget of trials."""
        trials = self.sync()
        live = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.RUNNING)]
        if len(live) >= self.config.trials:
            return False
        if self.pending is None:
            self.pending, self.pending_trial = self.strategy.propose(), None
            self.save()
        tokens, genotype = self.pending, self.space.decode(self.pending)
        trial = self._ask({"worker": self.id, "strategy": self.config.strategy, "tokens": tokens,
                           "genotype": genotype})
        self.pending_trial = trial.number
        self.save()
        ahead = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
                 if t.number < trial.number]
        if len(ahead) >= self.config.trials:  # another worker took the last slot first
            trial.set_user_attr("surplus", True)
            self.study.tell(trial, state=TrialState.FAIL)
            return False
        try:
            value = float(objective(tokens, genotype))
        except (KeyboardInterrupt, SystemExit):
            trial.set_user_attr("interrupted", True)
            self.study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as exc:  # a child that fails to train is a failed trial, not a failed search
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            self.study.tell(trial, state=TrialState.FAIL)
            self.pending, self.pending_trial = None, None
            self.save()
            if isinstance(exc, ConfigError):
                raise
            return True
        self.study.tell(trial, value)
        self.strategy.observe(tokens, value)
        self.observed.add(trial.number)
        self.pending, self.pending_trial = None, None
        self.run_here += 1
        self.save()
        return True


def run_search(config: SearchConfig, space: SearchSpace, strategy: Strategy, objective: Objective,
               progress: bool = True, settings: dict[str, Any] | None = None) -> SearchResult:
    """Run (or resume) a search until the study holds ``config.trials`` completed trials."""
    require_positive("trials", config.trials, "search")
    Path(config.out).mkdir(parents=True, exist_ok=True)
    storage = make_storage(config.storage, config.out)
    study = open_study(config.study_name, storage)
    _check_study_settings(study, {"space": space.name, "choices": list(space.choices), "data": config.data,
                                  "epochs_per_trial": config.epochs_per_trial, **(settings or {})})
    worker = _Worker(config, space, strategy, study)
    worker.recover()
    bar = _progress(progress, config)
    with bar:
        task = bar.add_task(f"{config.strategy} on {space.name}", total=config.trials)
        while True:
            more = worker.step(objective)
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            best = max((t.value for t in done), default=None)
            bar.update(task, completed=min(len(done), config.trials),
                       description=f"{config.strategy} on {space.name} best={best if best is None else round(best, 4)}")
            if not more:
                break
    worker.sync()
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best_trial = max(done, key=lambda t: t.value, default=None)
    storage_label = config.storage or str(Path(config.out) / "optuna-journal.log")
    return SearchResult(config.study_name, storage_label, len(done),
                        None if best_trial is None else best_trial.value,
                        None if best_trial is None else json.loads(json.dumps(best_trial.user_attrs["genotype"])),
                        worker.run_here)


def _progress(enabled: bool, config: SearchConfig):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=not enabled)
