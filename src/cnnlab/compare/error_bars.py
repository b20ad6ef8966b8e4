"""Honest error bars on a test accuracy: the binomial sampling error of a finite test set, and the spread
over training seeds.

A test accuracy ``p`` measured on ``n`` images is a binomial proportion: its standard error is
``sqrt(p (1 - p) / n)`` (the normal approximation of the binomial, e.g. Wasserman, *All of Statistics*,
§6.3.2). On Fashion-MNIST's 10,000 test images, 93 % carries ±0.51 points at 2σ: two networks closer than
that are not told apart by the test set, whatever the seeds say. The seed spread (sample standard
deviation over runs that differ only in their seed) measures the training's own noise, which the binomial
bar does not contain.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["binomial_sigma_pct", "binomial_two_sigma_pct", "seed_sd_pct"]


def binomial_sigma_pct(accuracy_pct: float, n: int) -> float:
    """One standard error, in percentage points, of an accuracy of ``accuracy_pct`` % on ``n`` images."""
    if n <= 0:
        raise ValueError(f"the test set must hold at least one image, got n={n}")
    p = accuracy_pct / 100.0
    return 100.0 * math.sqrt(max(p * (1.0 - p), 0.0) / n)


def binomial_two_sigma_pct(accuracy_pct: float, n: int) -> float:
    """The ±2σ half-width (about a 95 % interval), in percentage points."""
    return 2.0 * binomial_sigma_pct(accuracy_pct, n)


def seed_sd_pct(accuracies_pct: Sequence[float]) -> float | None:
    """Sample standard deviation over seeds (percentage points); None with fewer than 2 seeds."""
    return statistics.stdev(accuracies_pct) if len(accuracies_pct) >= 2 else None
