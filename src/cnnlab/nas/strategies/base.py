"""What every search strategy offers the engine: propose tokens, learn from a score, save/restore, and
its own default options for a budget of trials."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnlab.errors import ConfigError

__all__ = ["Strategy"]


class Strategy(ABC):
    """A strategy over token sequences; ``choices[i]`` options for token ``i``.

    ``observe`` may receive architectures the strategy did not propose (another worker's trials),
    so every strategy learns from the shared history of the study. ``warm_start``: architectures to
    propose first (e.g. the cells a zero-cost proxy ranks best), before the strategy's own proposals.
    """

    name = "base"

    def __init__(self, choices: Sequence[int], seed: int = 0,
                 warm_start: Sequence[Sequence[int]] | None = None) -> None:
        self.choices = tuple(int(c) for c in choices)
        self.rng = np.random.default_rng(seed)
        self.warm: list[list[int]] = [self._checked(t) for t in (warm_start or ())]

    @classmethod
    def default_options(cls, trials: int) -> dict[str, Any]:
        """The options this strategy uses for a budget of ``trials`` (none by default)."""
        return {}

    def _checked(self, tokens: Sequence[int]) -> list[int]:
        tokens = [int(t) for t in tokens]
        if len(tokens) != len(self.choices) or any(not 0 <= t < c for t, c in zip(tokens, self.choices, strict=True)):
            raise ConfigError(f"{self.name}: warm-start tokens {tokens!r} do not fit choices {list(self.choices)}")
        return tokens

    def random_tokens(self) -> list[int]:
        return [int(self.rng.integers(c)) for c in self.choices]

    def propose(self) -> list[int]:
        """The next architecture to evaluate: the warm start's first, then the strategy's own."""
        if self.warm:
            return self.warm.pop(0)
        return self.propose_next()

    @abstractmethod
    def propose_next(self) -> list[int]:
        """The strategy's own next architecture."""

    @abstractmethod
    def observe(self, tokens: list[int], reward: float) -> None:
        """Learn from one evaluated architecture (reward: validation accuracy)."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "warm": [list(t) for t in self.warm]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.warm = [list(map(int, t)) for t in state.get("warm", [])]
