"""What every search strategy offers the engine: propose tokens, learn from a score, save/restore."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Strategy"]


class Strategy(ABC):
    """A strategy over token sequences; ``choices[i]`` options for token ``i``.

    ``observe`` may receive architectures the strategy did not propose (another worker's trials),
    so every strategy learns from the shared history of the study.
    """

    name = "base"

    def __init__(self, choices: Sequence[int], seed: int = 0) -> None:
        self.choices = tuple(int(c) for c in choices)
        self.rng = np.random.default_rng(seed)

    def random_tokens(self) -> list[int]:
        return [int(self.rng.integers(c)) for c in self.choices]

    @abstractmethod
    def propose(self) -> list[int]:
        """The next architecture to evaluate."""

    @abstractmethod
    def observe(self, tokens: list[int], reward: float) -> None:
        """Learn from one evaluated architecture (reward: validation accuracy)."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
