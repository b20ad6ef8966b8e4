"""A toy objective for testing strategies without training: the fraction of tokens that match a
hidden target architecture (a smooth landscape with one optimum, reward in [0, 1])."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["toy_target", "toy_reward"]


def toy_target(choices: Sequence[int], seed: int = 1234) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(rng.integers(c)) for c in choices]


def toy_reward(tokens: Sequence[int], choices: Sequence[int], seed: int = 1234) -> float:
    """Fraction of positions where ``tokens`` equals the hidden target drawn with ``seed``."""
    target = toy_target(choices, seed)
    return sum(int(t == g) for t, g in zip(tokens, target, strict=True)) / len(target)
