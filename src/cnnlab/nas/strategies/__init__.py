"""Search strategies on token sequences: random, REINFORCE controller, aging evolution, local search and
Optuna's TPE; each states its default options for a budget (``Strategy.default_options``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnlab.arith.checks import require_choice
from cnnlab.nas.strategies.base import Strategy
from cnnlab.nas.strategies.evolution import AgingEvolution
from cnnlab.nas.strategies.local_search import LocalSearch
from cnnlab.nas.strategies.random_search import RandomSearch
from cnnlab.nas.strategies.reinforce import Controller, Reinforce
from cnnlab.nas.strategies.tpe import TPE

__all__ = ["STRATEGIES", "Strategy", "RandomSearch", "Reinforce", "Controller", "AgingEvolution", "LocalSearch",
           "TPE", "make_strategy"]

STRATEGIES: dict[str, type[Strategy]] = {"random": RandomSearch, "reinforce": Reinforce,
                                         "evolution": AgingEvolution, "local": LocalSearch, "tpe": TPE}


def make_strategy(name: str, choices: Sequence[int], seed: int = 0, trials: int | None = None,
                  **options: Any) -> Strategy:
    """A strategy by name, seeded; with ``trials``, its default options for that budget under ``options``."""
    require_choice("strategy", name, tuple(STRATEGIES), "search")
    cls = STRATEGIES[name]
    defaults = cls.default_options(trials) if trials is not None else {}
    return cls(choices, seed=seed, **{**defaults, **options})
