"""Rank correlation of proxy scores with accuracies: how a proxy is judged (Abdelfattah et al. 2021, Table 1)."""

from __future__ import annotations

import numpy as np

__all__ = ["ranks", "spearman"]


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` (ties get the mean of their ranks; −inf is the lowest value)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(sorted_values[1:] != sorted_values[:-1]) + 1]
    ends = np.r_[starts[1:], len(values)]
    out = np.empty(len(values))
    out[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ: the Pearson correlation of the ranks (pairs with a NaN left out; NaN if a side is constant)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    ra, rb = ranks(a[keep]), ranks(b[keep])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")
