"""The search engine: cnnlab's strategies drive an Optuna study through ask/tell.

Trials live in the study's storage (a journal file in the run folder by default, or any Optuna
storage URL such as ``postgresql://...`` shared by several workers; :mod:`cnnlab.nas.storage`).
Each worker keeps its strategy's state (population, controller weights and optimizer, baseline,
random state) in a file written atomically after every step without pickle
(:mod:`cnnlab.nas.state`), together with the trial numbers it has learned from and the
architecture it is evaluating.

- A trial is created with its worker, strategy, tokens and genotype as user attrs in one storage
  operation, so no trial is ever without an owner; while it runs, its worker beats for it.
- An interrupted trial (its worker was killed: found by the same worker on restart, or by any other
  worker once its heartbeat is ``GRACE_BEATS`` beats late) is marked FAIL and its architecture put
  back as a WAITING trial; exactly one worker claims it and evaluates it again.
- Every worker learns from every COMPLETE trial of the study it has not observed yet, so no
  completed trial is lost or run twice. A worker stops when the study holds ``trials`` COMPLETE
  trials; while the rest of the budget runs on other workers it waits for them (or for them to go
  stale). A trial asked beyond the budget is closed as FAIL (attr ``surplus``).
- ``max_failures`` children failing in a row stop the search with the last child's own error.
- :class:`Goals` (``--objective``, ``--max-macs`` …, ``--pruner``, ``--prefilter``): several objectives make
  a multi-objective study (accuracy maximised, costs minimised; the strategies learn accuracy); a child
  over a cost limit is measured, not trained, and closed PRUNED (attr ``violates``); a pruner stops a
  child after an epoch (PRUNED, its value the last reported accuracy); the prefilter picks which of K
  candidates trains. ``trials`` counts trained children, completed or pruned by the pruner.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import TrialState

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.constraints import CostLimits
from cnnlab.nas.fidelity import make_pruner
from cnnlab.nas.genotype import write_best_genotype
from cnnlab.nas.objectives import directions, objective_values
from cnnlab.nas.pareto import write_pareto
from cnnlab.nas.spaces import SearchSpace
from cnnlab.nas.state import load_state, save_state
from cnnlab.nas.storage import HEARTBEAT_S, hold_worker_name, make_storage, open_study, requeue
from cnnlab.nas.strategies import Strategy

__all__ = ["Goals", "SearchConfig", "SearchResult", "open_study", "make_storage", "run_search", "worker_state_path",
           "accuracy_of", "spent", "goal_settings"]

# objective(tokens, genotype) -> accuracy; with a pruner, objective(tokens, genotype, report) where
# report(epoch, accuracy) is called after every epoch and raises optuna.TrialPruned to stop the child
Objective = Callable[..., float]
MAX_REFUSED_IN_ROW = 200  # children over a cost limit in a row before the search gives up


def accuracy_of(trial: optuna.trial.FrozenTrial) -> float | None:
    """The validation accuracy of a trial (its first value; a pruned child's last reported one)."""
    return None if not trial.values else float(trial.values[0])


def spent(trial: optuna.trial.FrozenTrial) -> bool:
    """A trained child: COMPLETE, or PRUNED by the pruner (not one refused by a cost limit)."""
    return trial.state == TrialState.COMPLETE or (
        trial.state == TrialState.PRUNED and "violates" not in trial.user_attrs)


def _live(trial: optuna.trial.FrozenTrial) -> bool:
    return spent(trial) or trial.state in (TrialState.RUNNING, TrialState.WAITING)


@dataclass(frozen=True)
class Goals:
    """What the search optimises besides the default (accuracy alone, no limits, no pruner, no prefilter):
    ``objectives`` (accuracy first), cost ``limits``, the ``pruner``'s name, ``measure(genotype)`` → the
    child's costs (:func:`cnnlab.nas.objectives.measure_costs`), ``prefilter(tokens)`` → (the tokens to
    train, the candidates with their scores)."""

    objectives: tuple[str, ...] = ("accuracy",)
    limits: CostLimits = CostLimits()
    pruner: str = "none"
    epochs: int = 1
    measure: Callable[[dict[str, Any]], dict[str, float]] | None = None
    prefilter: Callable[[list[int]], tuple[list[int], list[dict[str, Any]]]] | None = None
    prefilter_setting: str | None = None  # "PROXY:K", recorded in the study
    max_refused: int = MAX_REFUSED_IN_ROW  # children over a limit in a row before the search gives up

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1


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
    max_failures: int = 5
    heartbeat_s: int = HEARTBEAT_S

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
    best_path: Path | None = None
    pareto: list[dict[str, Any]] | None = None  # multi-objective: the Pareto set (pareto.json)
    pareto_path: Path | None = None


def _worker_id(config: SearchConfig) -> str:
    return f"{socket.gethostname()}:{Path(config.out).resolve()}:{config.worker}"


def worker_state_path(config: SearchConfig) -> Path:
    """``<out>/state-<study>-<worker>-<crc of host, out and worker>.pt``."""
    tag = f"{zlib.crc32(_worker_id(config).encode()):08x}"
    return Path(config.out) / f"state-{config.study_name}-{config.worker}-{tag}.pt"


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

    def __init__(self, config: SearchConfig, space: SearchSpace, strategy: Strategy, study: optuna.Study,
                 goals: Goals) -> None:
        self.config, self.space, self.strategy, self.study, self.goals = config, space, strategy, study, goals
        self.storage = study._storage
        self.id = _worker_id(config)
        self.state_path = worker_state_path(config)
        self.observed: set[int] = set()
        self.pending: list[int] | None = None
        self.pending_trial: int | None = None
        self.pending_screen: list[dict[str, Any]] | None = None  # the prefilter's candidates and scores
        self.refused_in_row = 0
        self.run_here = 0
        self.failures_in_row = 0
        self.last_error: tuple[int, str] | None = None
        self.waiting = False
        self.beats = isinstance(self.storage, BaseHeartbeat) and self.storage.get_heartbeat_interval() is not None
        if self.state_path.is_file():
            self._restore(load_state(self.state_path))

    def _restore(self, state: Any) -> None:
        try:
            self.strategy.load_state_dict(state["strategy"])
            self.observed = {int(n) for n in state["observed"]}
            self.pending = None if state["pending"] is None else self.space.check_tokens(state["pending"])
            self.pending_trial = None if state["pending_trial"] is None else int(state["pending_trial"])
            self.pending_screen = state.get("pending_screen")
            self.run_here = int(state.get("run_here", 0))
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as exc:
            raise ConfigError(
                f"search state file {str(self.state_path)!r} does not belong to this search "
                f"({type(exc).__name__}: {exc}); delete it to restart this worker's strategy "
                "(the study keeps every completed trial)") from None

    def save(self) -> None:
        state = {"strategy": self.strategy.state_dict(), "observed": sorted(self.observed),
                 "pending": self.pending, "pending_trial": self.pending_trial, "run_here": self.run_here,
                 "pending_screen": self.pending_screen,
                 "worker": self.id, "config": asdict(self.config)}
        save_state(self.state_path, state)

    def _interrupt(self, trial_id: int) -> None:
        """Mark one of this worker's trials FAIL (attr ``interrupted``) and requeue its architecture,
        unless another worker found it stale first (and requeued it)."""
        try:
            self.storage.set_trial_user_attr(trial_id, "interrupted", True)
            if self.storage.set_trial_state_values(trial_id, TrialState.FAIL):
                requeue(self.study, self.storage.get_trial(trial_id))
        except UpdateFinishedTrialError:
            pass

    def recover(self) -> None:
        """Close this worker's interrupted trials (their architectures go back to the queue); the
        pending architecture is dropped once it has a trial (completed, failed or requeued)."""
        mine = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if t.user_attrs.get("worker") == self.id]
        for t in mine:
            self._interrupt(t._trial_id)
        if self.pending_trial is not None or any(t.user_attrs.get("tokens") == self.pending for t in mine):
            self._clear_pending()
        self.save()

    def _clear_pending(self) -> None:
        self.pending, self.pending_trial, self.pending_screen = None, None, None

    def sync(self) -> list[optuna.trial.FrozenTrial]:
        """Learn from every finished trial not yet observed, in trial order — COMPLETE and PRUNED (its last
        reported accuracy; 0 for a child refused by a cost limit) — and return all trials."""
        trials = self.study.get_trials(deepcopy=False)
        new = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               and t.number not in self.observed and "tokens" in t.user_attrs]
        for t in sorted(new, key=lambda t: t.number):
            self.strategy.observe(list(t.user_attrs["tokens"]), accuracy_of(t) or 0.0)
            self.observed.add(t.number)
        if new:
            self.save()
        return trials

    def _fail_stale(self) -> None:
        """Other workers' trials whose heartbeat stopped: FAIL, architecture requeued (Optuna's
        ``fail_stale_trials`` with :func:`cnnlab.nas.storage.requeue` as callback)."""
        if self.beats:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)

    @contextlib.contextmanager
    def _beating(self, trial_id: int) -> Iterator[None]:
        """Record a heartbeat for ``trial_id`` every interval while the block runs."""
        if not self.beats:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while True:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried; a trial failed elsewhere ends
                    pass
                if stop.wait(self.config.heartbeat_s):
                    return

        thread = threading.Thread(target=beat, name=f"cnnlab-heartbeat-{trial_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _create(self, user_attrs: dict[str, Any]) -> optuna.trial.Trial:
        """``study.ask()`` with the user attrs written in the same storage operation, so a trial
        never exists without its worker, even when the worker dies right after creating it."""
        template = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs=user_attrs)
        trial_id = self.storage.create_new_trial(self.study._study_id, template_trial=template)
        if self.beats:
            self.storage.record_heartbeat(trial_id)
        return optuna.trial.Trial(self.study, trial_id)

    def _claim(self, trials: list[optuna.trial.FrozenTrial]) -> tuple[optuna.trial.Trial, list[int]] | None:
        """Take a requeued (WAITING) architecture; the storage lets exactly one worker have it."""
        for t in trials:
            if t.state != TrialState.WAITING or "tokens" not in t.user_attrs:
                continue
            try:
                won = self.storage.set_trial_state_values(t._trial_id, TrialState.RUNNING)
            except UpdateFinishedTrialError:
                continue
            if won:
                if self.beats:
                    self.storage.record_heartbeat(t._trial_id)
                self.storage.set_trial_user_attr(t._trial_id, "worker", self.id)
                return optuna.trial.Trial(self.study, t._trial_id), self.space.check_tokens(t.user_attrs["tokens"])
        return None

    def step(self, objective: Objective) -> bool:
        """Evaluate one architecture (or wait for other workers); False once the study holds
        ``trials`` COMPLETE trials."""
        self._fail_stale()
        trials = self.sync()
        if sum(spent(t) for t in trials) >= self.config.trials:
            return False
        claimed = self._claim(trials)
        self.waiting = False
        if claimed is None:
            if sum(_live(t) for t in trials) >= self.config.trials:
                # the rest of the budget runs elsewhere: wait until it completes or goes stale
                self.waiting = True
                time.sleep(max(0.5, min(5.0, self.config.heartbeat_s / 2)))
                return True
            if self.pending is None:
                self.pending, self.pending_trial, self.pending_screen = self.strategy.propose(), None, None
                if self.goals.prefilter is not None:
                    self.pending, self.pending_screen = self.goals.prefilter(self.pending)
                self.save()
            tokens = self.pending
            attrs = {"worker": self.id, "strategy": self.config.strategy, "tokens": tokens,
                     "genotype": self.space.decode(tokens)}
            if self.pending_screen is not None:
                attrs["prefilter"] = self.pending_screen
            trial = self._create(attrs)
        else:
            trial, tokens = claimed
        self.pending, self.pending_trial = tokens, trial.number
        self.save()
        ahead = [t for t in self.study.get_trials(deepcopy=False) if _live(t) and t.number < trial.number]
        if len(ahead) >= self.config.trials:  # other workers took the last slots first
            trial.set_user_attr("surplus", True)
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            self._clear_pending()
            self.save()
            return True
        return self._evaluate(trial, tokens, objective)

    def _run_child(self, trial: optuna.trial.Trial, tokens: list[int], objective: Objective
                   ) -> tuple[float, dict[str, float]] | str:
        """Measure the child, then train it: (accuracy, costs), or why it broke a cost limit."""
        genotype = self.space.decode(tokens)
        costs = {} if self.goals.measure is None else self.goals.measure(genotype)
        for key, value in costs.items():
            trial.set_user_attr(key, value)
        broken = self.goals.limits.violations(costs)
        if broken:
            return "; ".join(broken)
        if self.goals.pruner == "none":
            value = float(objective(tokens, genotype))
        else:
            def report(epoch: int, accuracy: float) -> None:
                trial.report(float(accuracy), int(epoch))
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {epoch} at accuracy {accuracy:.4f}")

            value = float(objective(tokens, genotype, report))
        if not math.isfinite(value):
            raise RuntimeError(f"the child scored {value}")
        return value, costs

    def _close_pruned(self, trial: optuna.trial.Trial, tokens: list[int], violates: str | None) -> bool:
        """Tell a child PRUNED (refused by a limit, or stopped by the pruner) and let the strategy learn it."""
        with contextlib.suppress(UpdateFinishedTrialError):
            if violates is not None:
                trial.set_user_attr("violates", violates)
            told = self.study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
            if told.state == TrialState.PRUNED:
                self.strategy.observe(tokens, accuracy_of(told) or 0.0)
                self.observed.add(trial.number)
        self._clear_pending()
        self.save()
        return True

    def _evaluate(self, trial: optuna.trial.Trial, tokens: list[int], objective: Objective) -> bool:
        try:
            with self._beating(trial._trial_id):
                outcome = self._run_child(trial, tokens, objective)
        except (KeyboardInterrupt, SystemExit):
            self._interrupt(trial._trial_id)
            self._clear_pending()
            self.save()
            raise
        except optuna.TrialPruned:
            self.failures_in_row = self.refused_in_row = 0
            return self._close_pruned(trial, tokens, None)
        except Exception as exc:  # a child that fails to train is a failed trial, not a failed search
            message = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(UpdateFinishedTrialError):
                trial.set_user_attr("error", message)
                self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            self._clear_pending()
            self.save()
            self.failures_in_row += 1
            self.last_error = (trial.number, message)
            if isinstance(exc, ConfigError):
                raise
            return True
        if isinstance(outcome, str):
            self.refused_in_row += 1
            return self._close_pruned(trial, tokens, outcome)
        self.failures_in_row = self.refused_in_row = 0
        value, costs = outcome
        told_values = objective_values(self.goals.objectives, value, costs) if self.goals.multi else value
        try:
            told = self.study.tell(trial, told_values, skip_if_finished=True)
        except UpdateFinishedTrialError:  # failed as stale by another worker a moment ago
            told = None
        if told is not None and told.state == TrialState.COMPLETE:
            self.strategy.observe(tokens, value)
            self.observed.add(trial.number)
            self.run_here += 1
        # else: another worker took this trial for dead and requeued it; its rerun counts instead
        self._clear_pending()
        self.save()
        return True


def _writable_out(out: str) -> None:
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out {out!r} is a file, not a folder") from None
    except OSError as exc:
        raise ConfigError(f"--out {out!r}: cannot create the run folder: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise ConfigError(f"--out {out!r} is a file, not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out!r}: the run folder is not writable (read-only file system or permissions)")


def _failure_stop(config: SearchConfig, worker: _Worker) -> ConfigError:
    number, message = worker.last_error or (-1, "?")
    return ConfigError(
        f"search stopped: {worker.failures_in_row} children failed in a row (--max-failures "
        f"{config.max_failures}); the last one, trial {number}, failed with {message}")


def _refusal_stop(config: SearchConfig, worker: _Worker) -> ConfigError:
    limits = worker.goals.limits.settings() or {}
    given = ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in limits.items())
    return ConfigError(f"search stopped: {worker.refused_in_row} children in a row broke the cost limits ({given}) "
                       f"and were not trained; the {config.strategy} strategy keeps proposing children over them — "
                       "raise the limits or make the children smaller (--C, --N, --blocks, --nodes)")


def goal_settings(goals: Goals) -> dict[str, Any]:
    """The goals as study settings; None for each one left at its default, so studies made before the
    goals existed resume unchanged."""
    return {"objectives": list(goals.objectives) if goals.multi else None, "limits": goals.limits.settings(),
            "pruner": None if goals.pruner == "none" else goals.pruner, "prefilter": goals.prefilter_setting}


def run_search(config: SearchConfig, space: SearchSpace, strategy: Strategy, objective: Objective,
               progress: bool = True, settings: dict[str, Any] | None = None, goals: Goals | None = None
               ) -> SearchResult:
    """Run (or resume) a search until the study holds ``config.trials`` trained children (completed, or
    pruned by the pruner); ``goals``: objectives, cost limits, pruner and prefilter (default: accuracy)."""
    goals = Goals() if goals is None else goals
    for name in ("trials", "max_failures", "heartbeat_s"):
        require_positive(f"--{name.replace('_', '-')}", getattr(config, name), "search")
    for flag, name in (("--worker", config.worker), ("--study", config.study_name)):
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ConfigError(f"search: {flag} {name!r} must be a non-empty name without '/', '\\' or NUL "
                              "(it names files in --out)")
    _writable_out(config.out)
    storage = make_storage(config.storage, config.out, heartbeat_s=config.heartbeat_s)
    held = hold_worker_name(config.storage, config.out, config.study_name, config.worker)
    try:
        return _run(config, space, strategy, objective, progress, settings, storage, goals)
    except OSError as exc:  # the journal, state file or best.json could not be written (disk full ...)
        where = exc.filename or config.storage or config.out
        raise ConfigError(f"search files: cannot write {str(where)!r} ({exc.strerror or exc}); "
                          f"check --out {config.out!r}" + ("" if config.storage is None else " and --storage")
                          ) from None
    finally:
        held.release()


def _open(name: str, storage: optuna.storages.BaseStorage, goals: Goals) -> optuna.Study:
    """The study (created with one direction per objective); a study of other objectives is refused."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(name, storage) if not goals.multi else optuna.create_study(
        study_name=name, storage=storage, directions=directions(goals.objectives), load_if_exists=True)
    wanted = [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else optuna.study.StudyDirection.MINIMIZE
              for d in directions(goals.objectives)]
    if list(study.directions) != wanted:
        raise ConfigError(f"study {name!r} was started with {len(study.directions)} objective(s) "
                          f"({', '.join(d.name.lower() for d in study.directions)}); this command gives "
                          f"--objective {','.join(goals.objectives)}")
    study.pruner = make_pruner(goals.pruner, goals.epochs)
    return study


def _run(config: SearchConfig, space: SearchSpace, strategy: Strategy, objective: Objective, progress: bool,
         settings: dict[str, Any] | None, storage: optuna.storages.BaseStorage, goals: Goals) -> SearchResult:
    study = _open(config.study_name, storage, goals)
    _check_study_settings(study, {"space": space.name, "choices": list(space.choices), "data": config.data,
                                  "epochs_per_trial": config.epochs_per_trial, **(settings or {}),
                                  **goal_settings(goals)})
    worker = _Worker(config, space, strategy, study, goals)
    worker.recover()
    bar = _progress(progress)
    with bar:
        task = bar.add_task(f"{config.strategy} on {space.name}", total=config.trials)
        while True:
            more = worker.step(objective)
            trials = study.get_trials(deepcopy=False)
            best = max((accuracy_of(t) for t in trials if t.state == TrialState.COMPLETE), default=None)
            note = " (waiting for trials running on other workers)" if worker.waiting else ""
            bar.update(task, completed=min(sum(spent(t) for t in trials), config.trials),
                       description=f"{config.strategy} on {space.name} "
                                   f"best={best if best is None else round(best, 4)}{note}")
            if worker.failures_in_row >= config.max_failures:
                raise _failure_stop(config, worker)
            if worker.refused_in_row >= goals.max_refused:
                raise _refusal_stop(config, worker)
            if not more:
                break
    worker.sync()
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best_trial = max(done, key=accuracy_of, default=None)
    storage_label = config.storage or str(Path(config.out) / "optuna-journal.log")
    genotype = None if best_trial is None else json.loads(json.dumps(best_trial.user_attrs["genotype"]))
    best_path = None if genotype is None else write_best_genotype(Path(config.out) / "best.json", genotype)
    result = SearchResult(config.study_name, storage_label, len(done),
                          None if best_trial is None else accuracy_of(best_trial), genotype, worker.run_here,
                          best_path)
    if goals.multi:
        result.pareto, result.pareto_path = write_pareto(study, goals.objectives, Path(config.out))
    return result


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=not enabled)
