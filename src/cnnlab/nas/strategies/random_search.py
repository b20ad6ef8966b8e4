"""Random search: every token drawn uniformly, the baseline every NAS method must beat
(Li & Talwalkar 2019, "Random Search and Reproducibility for NAS")."""

from __future__ import annotations

from cnnlab.nas.strategies.base import Strategy

__all__ = ["RandomSearch"]


class RandomSearch(Strategy):
    name = "random"

    def propose_next(self) -> list[int]:
        return self.random_tokens()

    def observe(self, tokens: list[int], reward: float) -> None:
        """Random search learns nothing."""
