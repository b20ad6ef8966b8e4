"""Regularized (aging) evolution (Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", Algorithm 1): keep the last ``population_size`` evaluated architectures; a
new child mutates the best of ``sample_size`` random members; the oldest member dies. A warm start
fills the first population (the rest of it is random)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.strategies.base import Strategy

__all__ = ["AgingEvolution"]


class AgingEvolution(Strategy):
    name = "evolution"

    def __init__(self, choices: Sequence[int], seed: int = 0, population_size: int = 20,
                 sample_size: int = 5, warm_start: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(choices, seed, warm_start)
        self.population_size = require_positive("population_size", population_size, "evolution")
        self.sample_size = require_positive("sample_size", sample_size, "evolution")
        if sample_size > population_size:
            raise ConfigError(f"evolution: sample_size={sample_size} exceeds population_size={population_size}")
        self.population: list[tuple[list[int], float]] = []  # oldest first

    @classmethod
    def default_options(cls, trials: int) -> dict[str, Any]:
        """Population ≈ trials / 4 (4 … 50), sample ≈ P / 4 (≥ 2): a quarter of the budget builds the first
        population, and the sample keeps the selection pressure of Real et al.'s P=100, S=25 ... 100, 10."""
        population = max(4, min(50, trials // 4))
        return {"population_size": population, "sample_size": max(2, population // 4)}

    def mutate(self, parent: list[int]) -> list[int]:
        """Change one token (an op or an input) to a different value (Real et al., Sec. 3)."""
        mutable = [i for i, c in enumerate(self.choices) if c > 1]
        child = list(parent)
        if not mutable:
            return child
        i = mutable[int(self.rng.integers(len(mutable)))]
        child[i] = (child[i] + 1 + int(self.rng.integers(self.choices[i] - 1))) % self.choices[i]
        return child

    def propose_next(self) -> list[int]:
        if len(self.population) < self.population_size:
            return self.random_tokens()
        picks = self.rng.choice(len(self.population), size=self.sample_size, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])
        return self.mutate(parent[0])

    def observe(self, tokens: list[int], reward: float) -> None:
        self.population.append((list(tokens), float(reward)))
        if len(self.population) > self.population_size:
            self.population.pop(0)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "population": [[t, r] for t, r in self.population]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = [(list(t), float(r)) for t, r in state["population"]]
