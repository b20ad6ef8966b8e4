"""Local search (White, Nolen, Siems & Hutter 2021, "Local Search is State of the Art for Neural
Architecture Search Benchmarks", Algorithm 1): evaluate every neighbour of the current architecture (all
architectures that differ in one token), in random order; move to the best of them if it beats the
current one, else the current one is a local optimum and the search restarts from a random architecture.

The first centre is the best of ``num_init`` initial architectures (the warm start's, then random ones).
An architecture already evaluated is never proposed again: its score is known.

Proxy-ordered neighbourhoods: with ``rank`` (a zero-cost score of a token sequence, higher = better, e.g.
synflow) the neighbours are proposed best-ranked first instead of in random order, and with
``first_improvement`` the search moves as soon as one beats the centre instead of after the whole
neighbourhood (24 queries on NB201) — the ordering only saves queries together with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.strategies.base import Strategy

__all__ = ["LocalSearch", "neighbours"]

Tokens = tuple[int, ...]


def neighbours(tokens: Sequence[int], choices: Sequence[int]) -> list[Tokens]:
    """Every architecture that differs from ``tokens`` in exactly one token."""
    t = tuple(int(v) for v in tokens)
    return [t[:i] + (v,) + t[i + 1:] for i, c in enumerate(choices) for v in range(c) if v != t[i]]


class LocalSearch(Strategy):
    name = "local"

    def __init__(self, choices: Sequence[int], seed: int = 0, num_init: int = 10,
                 warm_start: Sequence[Sequence[int]] | None = None,
                 rank: Callable[[Sequence[int]], float] | None = None, first_improvement: bool = False) -> None:
        super().__init__(choices, seed, warm_start)
        self.num_init = require_positive("num_init", num_init, "local search")
        if rank is not None and not callable(rank):
            raise ConfigError(f"local search: rank must be a function of a token sequence, got {rank!r}")
        self.rank = rank
        self.first_improvement = bool(first_improvement)
        self.seen: dict[Tokens, float] = {}  # every observed architecture and its (first) score
        self.centre: Tokens | None = None
        self.queue: list[Tokens] = []  # neighbours of the centre not proposed yet
        self.restart: Tokens | None = None  # a random restart proposed, not observed yet

    @classmethod
    def default_options(cls, trials: int) -> dict[str, Any]:
        """10 initial architectures, fewer for a budget under 100 trials (a tenth of it, at least one)."""
        return {"num_init": max(1, min(10, trials // 10))}

    def _random_unseen(self) -> list[int]:
        for _ in range(100):
            tokens = self.random_tokens()
            if tuple(tokens) not in self.seen:
                return tokens
        return tokens

    def _centre_on(self, tokens: Tokens) -> None:
        self.centre = tokens
        self.queue = neighbours(tokens, self.choices)
        order = self.rng.permutation(len(self.queue))  # drawn either way: a rank leaves the seed's stream alone
        self.queue = [self.queue[int(i)] for i in order]
        if self.rank is not None:  # proposed from the end of the queue: the best-ranked last, ties in random order
            scores = [float(self.rank(t)) for t in self.queue]
            scores = [s if s == s else float("-inf") for s in scores]  # NaN ranks last
            self.queue = [t for _, _, t in sorted(zip(scores, range(len(self.queue)), self.queue, strict=True))]

    def propose_next(self) -> list[int]:
        if len(self.seen) < self.num_init:
            return self._random_unseen()
        if self.centre is None:
            if self.restart is not None:  # the restart was never scored (a failed trial): draw another
                self.restart = tuple(self._random_unseen())
                return list(self.restart)
            self._centre_on(max(self.seen, key=self.seen.__getitem__))
        while True:
            while self.queue:
                tokens = self.queue.pop()
                if tokens not in self.seen:
                    return list(tokens)
            scored = [t for t in neighbours(self.centre, self.choices) if t in self.seen]
            best = max(scored, key=self.seen.__getitem__, default=None)
            if best is not None and self.seen[best] > self.seen[self.centre]:
                self._centre_on(best)
                continue
            self.centre = None  # a local optimum: restart from a random architecture
            self.restart = tuple(self._random_unseen())
            return list(self.restart)

    def observe(self, tokens: list[int], reward: float) -> None:
        key = tuple(int(t) for t in tokens)
        self.seen.setdefault(key, float(reward))
        if self.restart is not None and key == self.restart:
            self.restart = None
            self._centre_on(key)
        elif (self.first_improvement and self.centre is not None and key in self.seen
              and sum(a != b for a, b in zip(key, self.centre, strict=True)) == 1
              and self.seen[key] > self.seen.get(self.centre, float("inf"))):
            self._centre_on(key)  # the first neighbour that beats the centre becomes the centre

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "seen": [[list(t), r] for t, r in self.seen.items()],
                "centre": None if self.centre is None else list(self.centre),
                "queue": [list(t) for t in self.queue],
                "restart": None if self.restart is None else list(self.restart)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.seen = {tuple(int(v) for v in t): float(r) for t, r in state["seen"]}
        self.centre = None if state["centre"] is None else tuple(int(v) for v in state["centre"])
        self.queue = [tuple(int(v) for v in t) for t in state["queue"]]
        self.restart = None if state["restart"] is None else tuple(int(v) for v in state["restart"])
