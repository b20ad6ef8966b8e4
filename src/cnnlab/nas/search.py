"""``search(...)``: the one call behind ``cnnlab search`` — space, strategy, objective, engine."""

from __future__ import annotations

import zlib
from typing import Any

from cnnlab.arith.checks import require_seed
from cnnlab.errors import ConfigError
from cnnlab.nas.engine import SearchConfig, SearchResult, run_search
from cnnlab.nas.evaluate import ChildBudget, make_objective, measure_child
from cnnlab.nas.spaces import SearchSpace, make_space
from cnnlab.nas.storage import HEARTBEAT_S
from cnnlab.nas.strategies import make_strategy

__all__ = ["search", "strategy_options"]


def strategy_options(name: str, trials: int) -> dict[str, Any]:
    """Defaults scaled to the budget: aging evolution's population ≈ trials / 4 (≥ 4), sample ≈ P / 4."""
    if name == "evolution":
        population = max(4, min(50, trials // 4))
        return {"population_size": population, "sample_size": max(2, population // 4)}
    return {}


def _size_flags(space: SearchSpace, budget: ChildBudget) -> str:
    shape = {"nasnet": f"--blocks {space.settings.get('blocks')} --N {budget.N} ",
             "randwire": f"--nodes {space.settings.get('nodes')} "}.get(space.name, "")
    return f"--C {budget.C} {shape}--batch-size {budget.batch_size}"


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


def search(
    space: str = "nasnet",
    strategy: str = "random",
    trials: int = 20,
    data: str = "digits",
    epochs_per_trial: int = 1,
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
) -> SearchResult:
    """Run or resume a search; see :mod:`cnnlab.nas.engine` for the resume guarantees.

    A budget whose child cannot fit (training memory, size limits of :mod:`cnnlab.nas.child_size`)
    is refused before the first trial; ``max_failures`` children failing in a row stop the search."""
    require_seed("--seed", seed, "search")
    search_space = make_space(space, blocks=blocks, nodes=nodes)
    budget = budget or ChildBudget(epochs=epochs_per_trial, seed=seed)
    objective = make_objective(search_space, data, budget, toy_seconds)
    if data != "toy":
        _check_first_child(search_space, data, budget, seed, progress)
    # workers of one study explore differently: the worker name is mixed into the seed
    strategy_seed = seed if worker == "0" else seed * 1_000_003 + zlib.crc32(worker.encode())
    opts = strategy_options(strategy, trials)
    policy = make_strategy(strategy, search_space.choices, seed=strategy_seed, **opts)
    config = SearchConfig(space=space, strategy=strategy, trials=trials, data=data,
                          epochs_per_trial=epochs_per_trial, storage=storage, study=study, out=out,
                          seed=seed, worker=worker, max_failures=max_failures, heartbeat_s=heartbeat_s)
    # the layout changes the floats, so a study keeps one (None: the trainer's default, as before the flag)
    settings = {"C": budget.C, "N": budget.N, "nodes": nodes, "blocks": blocks, "channels_last": budget.channels_last}
    return run_search(config, search_space, policy, objective, progress=progress, settings=settings)
