"""Search strategies on token sequences: random, REINFORCE controller, aging evolution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnlab.arith.checks import require_choice
from cnnlab.nas.strategies.base import Strategy
from cnnlab.nas.strategies.evolution import AgingEvolution
from cnnlab.nas.strategies.random_search import RandomSearch
from cnnlab.nas.strategies.reinforce import Controller, Reinforce

__all__ = ["STRATEGIES", "Strategy", "RandomSearch", "Reinforce", "Controller", "AgingEvolution",
           "make_strategy"]

STRATEGIES: dict[str, type[Strategy]] = {"random": RandomSearch, "reinforce": Reinforce,
                                         "evolution": AgingEvolution}


def make_strategy(name: str, choices: Sequence[int], seed: int = 0, **options: Any) -> Strategy:
    """A strategy by name ('random', 'reinforce', 'evolution'), seeded."""
    require_choice("strategy", name, tuple(STRATEGIES), "search")
    return STRATEGIES[name](choices, seed=seed, **options)
