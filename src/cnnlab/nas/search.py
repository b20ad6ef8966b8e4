"""``search(...)``: the one call behind ``cnnlab search`` — space, strategy, objective, engine."""

from __future__ import annotations

import zlib
from typing import Any

from cnnlab.nas.engine import SearchConfig, SearchResult, run_search
from cnnlab.nas.evaluate import ChildBudget, make_objective
from cnnlab.nas.spaces import make_space
from cnnlab.nas.strategies import make_strategy

__all__ = ["search", "strategy_options"]


def strategy_options(name: str, trials: int) -> dict[str, Any]:
    """Defaults scaled to the budget: aging evolution's population ≈ trials / 4 (≥ 4), sample ≈ P / 4."""
    if name == "evolution":
        population = max(4, min(50, trials // 4))
        return {"population_size": population, "sample_size": max(2, population // 4)}
    return {}


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
) -> SearchResult:
    """Run or resume a search; see :mod:`cnnlab.nas.engine` for the resume guarantees."""
    search_space = make_space(space, blocks=blocks, nodes=nodes)
    budget = budget or ChildBudget(epochs=epochs_per_trial, seed=seed)
    objective = make_objective(search_space, data, budget, toy_seconds)
    # workers of one study explore differently: the worker name is mixed into the seed
    strategy_seed = seed if worker == "0" else seed * 1_000_003 + zlib.crc32(worker.encode())
    opts = strategy_options(strategy, trials)
    policy = make_strategy(strategy, search_space.choices, seed=strategy_seed, **opts)
    config = SearchConfig(space=space, strategy=strategy, trials=trials, data=data,
                          epochs_per_trial=epochs_per_trial, storage=storage, study=study, out=out,
                          seed=seed, worker=worker)
    settings = {"C": budget.C, "N": budget.N, "nodes": nodes, "blocks": blocks}
    return run_search(config, search_space, policy, objective, progress=progress, settings=settings)
