"""``search(...)``: the one call behind ``cnnlab search`` — space, strategy, objective, engine."""

from __future__ import annotations

import zlib
from typing import Any

from cnnlab.arith.checks import require_choice, require_seed
from cnnlab.errors import ConfigError
from cnnlab.nas.engine import SearchConfig, SearchResult, run_search
from cnnlab.nas.evaluate import ChildBudget, make_goals, make_objective, measure_child
from cnnlab.nas.spaces import SearchSpace, make_space
from cnnlab.nas.storage import HEARTBEAT_S
from cnnlab.nas.strategies import STRATEGIES, make_strategy
from cnnlab.nas.tabular import tabular_dataset

__all__ = ["search", "strategy_options"]


def strategy_options(name: str, trials: int) -> dict[str, Any]:
    """The options strategy ``name`` uses for a budget of ``trials`` (each strategy's ``default_options``)."""
    require_choice("strategy", name, tuple(STRATEGIES), "search")
    return STRATEGIES[name].default_options(trials)


def _size_flags(space: SearchSpace, budget: ChildBudget) -> str:
    return f"--C {budget.C} {space.shape_flags(budget)}--batch-size {budget.batch_size}"


def _check_first_child(space: SearchSpace, data: str, budget: ChildBudget, seed: int, progress: bool) -> None:
    """Refuse a budget whose first child (the first draw of random search) cannot train here,
    before any trial exists; tell the user what one child costs."""
    genotype = space.decode(make_strategy("random", space.choices, seed=seed).propose())
    cost, refusal = measure_child(genotype, data, budget)
    flags = _size_flags(space, budget)
    if refusal is not None:
        raise ConfigError(f"{flags}: {refusal}; choose a smaller budget")
    if progress:
        from rich.console import Console

        Console(stderr=True).print(f"child network ({flags}): {cost.describe()}", highlight=False, soft_wrap=True)


def _child_budget(budget: ChildBudget | None, epochs_per_trial: int | None, seed: int) -> ChildBudget:
    """The child budget is the one source of the epochs: ``epochs_per_trial`` only makes a default budget,
    and a budget that says otherwise is refused."""
    if budget is None:
        return ChildBudget(epochs=1 if epochs_per_trial is None else epochs_per_trial, seed=seed)
    if epochs_per_trial is not None and epochs_per_trial != budget.epochs:
        raise ConfigError(f"search: --epochs-per-trial {epochs_per_trial} disagrees with the child budget's "
                          f"epochs={budget.epochs}; give the epochs once")
    return budget


def search(
    space: str = "nasnet",
    strategy: str = "random",
    trials: int = 20,
    data: str = "digits",
    epochs_per_trial: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    out: str = "runs/search",
    seed: int = 0,
    worker: str = "0",
    blocks: int = 3,
    nodes: int = 8,
    budget: ChildBudget | None = None,
    toy_seconds: float = 0.0,
    progress: bool = True,
    max_failures: int = 5,
    heartbeat_s: int = HEARTBEAT_S,
    noise: float = 0.0,
    objectives: str | tuple[str, ...] = "accuracy",
    limits: Any = None,
    pruner: str = "none",
    prefilter: str | None = None,
    supernet_epochs: int = 10,
) -> SearchResult:
    """Run or resume a search; see :mod:`cnnlab.nas.engine` for the resume guarantees.

    A child trains for ``budget.epochs`` (``epochs_per_trial`` makes the default budget). ``data``
    ``nb201:cifar10`` / ``nb201:cifar100`` / ``nb201:imagenet16-120`` scores ``space="nb201"`` cells by
    the NAS-Bench-201 table plus Gaussian noise of ``noise`` points (:mod:`cnnlab.nas.tabular`).
    A budget whose child cannot fit (training memory, size limits of :mod:`cnnlab.nas.child_size`)
    is refused before the first trial; ``max_failures`` children failing in a row stop the search.
    ``objectives``, ``limits`` (a :class:`cnnlab.nas.constraints.CostLimits`), ``pruner`` and ``prefilter``:
    cost-aware and multi-fidelity search (:func:`cnnlab.nas.evaluate.make_goals`). ``strategy="oneshot"``
    (``space="nb201"``): a SPOS supernet trained ``supernet_epochs`` epochs, children scored with its weights
    (:mod:`cnnlab.nas.oneshot`)."""
    if strategy == "oneshot":
        from cnnlab.nas.oneshot.search import search_from_options

        return search_from_options(supernet_epochs, space=space, strategy=strategy, trials=trials, data=data,
                                   epochs_per_trial=epochs_per_trial, storage=storage, study=study, out=out,
                                   seed=seed, worker=worker, blocks=blocks, nodes=nodes, budget=budget,
                                   toy_seconds=toy_seconds, progress=progress, max_failures=max_failures,
                                   heartbeat_s=heartbeat_s, noise=noise, objectives=objectives, limits=limits,
                                   pruner=pruner, prefilter=prefilter)
    require_seed("--seed", seed, "search")
    require_choice("--strategy", strategy, tuple(STRATEGIES), "search")
    search_space = make_space(space, blocks=blocks, nodes=nodes)
    budget = _child_budget(budget, epochs_per_trial, seed)
    objective = make_objective(search_space, data, budget, toy_seconds, noise)
    goals = make_goals(search_space, data, budget, objectives, limits, pruner, prefilter, seed)
    tabular = tabular_dataset(data) is not None
    if data != "toy" and not tabular:
        _check_first_child(search_space, data, budget, seed, progress)
    # workers of one study explore differently: the worker name is mixed into the seed
    strategy_seed = seed if worker == "0" else seed * 1_000_003 + zlib.crc32(worker.encode())
    policy = make_strategy(strategy, search_space.choices, seed=strategy_seed, trials=trials)
    config = SearchConfig(space=space, strategy=strategy, trials=trials, data=data,
                          epochs_per_trial=budget.epochs, storage=storage, study=study, out=out,
                          seed=seed, worker=worker, max_failures=max_failures, heartbeat_s=heartbeat_s)
    # the layout changes the floats, so a study keeps one (None: the trainer's default, as before the flag)
    settings = {"C": budget.C, "N": budget.N, "nodes": nodes, "blocks": blocks, "channels_last": budget.channels_last,
                "noise": float(noise) if tabular else None}
    return run_search(config, search_space, policy, objective, progress=progress, settings=settings, goals=goals)
