"""Replaying searches on the NAS-Bench-201 table: a strategy proposes cells, the table scores them (plus
Gaussian noise of ``noise`` points, one draw per cell and run), and after each query the search returns the
cell with the best score so far; what counts is that cell's test accuracy in the table.

The loop calls the strategy directly (``propose`` / ``observe``, the same objects the engine drives), so
thousands of searches take minutes. :func:`random_search_expected` gives random search's exact expectation
by order statistics over the whole table, the baseline no strategy should lose to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnlab.nas.nb201_arch import NB201_CELLS, NB201_EDGES, NB201_OPS
from cnnlab.nas.nb201_table import NB201Table

__all__ = ["NB201_CHOICES", "tokens_of_index", "index_of_tokens", "replay", "RandomSearchExpectation",
           "random_search_expected", "top_cells"]

NB201_CHOICES = (len(NB201_OPS),) * len(NB201_EDGES)
_DIGITS = len(NB201_OPS) ** np.arange(len(NB201_EDGES) - 1, -1, -1)  # edge 0->1 the most significant


def index_of_tokens(table: NB201Table, tokens: Sequence[int]) -> int:
    """The benchmark index of a token sequence of the ``nb201`` space (op indices in arch-string order)."""
    return int(table.index_of_code[int(np.dot(tokens, _DIGITS))])


def tokens_of_index(table: NB201Table, index: int) -> list[int]:
    """The token sequence of a benchmark index."""
    code = int(table.codes[index])
    return [int(code // d % len(NB201_OPS)) for d in _DIGITS]


def replay(strategy: str, dataset: str, queries: int, seed: int, noise: float = 0.0,
           table: NB201Table | None = None, warm_start: Sequence[Sequence[int]] | None = None,
           trials: int | None = None, **options: object) -> np.ndarray:
    """One search of ``queries`` table look-ups; the benchmark index of the returned cell (best score so far)
    after each query. The strategy gets its default options for ``trials`` (default: ``queries``) under
    ``options``; its seed and the noise's are ``seed``."""
    from cnnlab.nas.strategies import make_strategy

    table = table or NB201Table.load()
    scores = table.noisy_scores(dataset, noise, seed)
    policy = make_strategy(strategy, NB201_CHOICES, seed=seed, trials=queries if trials is None else trials,
                           warm_start=warm_start, **options)
    returned = np.empty(queries, dtype=np.int64)
    best_score, best = -np.inf, -1
    for q in range(queries):
        tokens = policy.propose()
        index = index_of_tokens(table, tokens)
        score = float(scores[index])
        policy.observe(tokens, score / 100.0)  # rewards are fractions, as the engine's
        if score > best_score:
            best_score, best = score, index
        returned[q] = best
    return returned


@dataclass(frozen=True)
class RandomSearchExpectation:
    """Mean and std of the test accuracy of the cell random search returns, and the chance that it is an
    optimal cell (one with the table's best accuracy)."""

    mean: float
    std: float
    p_optimum: float


def random_search_expected(values: np.ndarray, queries: int | Sequence[int], noise: float = 0.0,
                           grid_step: float | None = None
                           ) -> RandomSearchExpectation | list[RandomSearchExpectation]:
    """Random search with ``queries`` uniform draws (with replacement) from ``values``, returning the draw with
    the best (noisy) score, by order statistics — exact for ``noise=0``: with the values sorted,
    P(returned = v_(k)) = (k/M)^n − ((k−1)/M)^n. With noise σ, each draw scores v_j + σz and the returned cell
    is the argmax: E[f(returned)] = n Σ_j f(v_j)/M ∫ φ_σ(y − v_j) F(y)^(n−1) dy, F(y) = Σ_k Φ((y − v_k)/σ)/M
    (integrated on a grid of ``grid_step``, default σ/25; draws independent). A sequence of ``queries``
    gives one expectation per entry."""
    values = np.array(values, dtype=np.float64)
    several = not isinstance(queries, int | np.integer)
    counts = [int(n) for n in (queries if several else [queries])]
    m, best = len(values), values.max()
    ties = int((values == best).sum())
    out = []
    if noise == 0:
        v = np.sort(values)
        k = np.arange(1, m + 1)
        for n in counts:
            weights = (k / m) ** n - ((k - 1) / m) ** n
            mean = float(weights @ v)
            var = float(weights @ (v - mean) ** 2)
            out.append(RandomSearchExpectation(mean, var ** 0.5, float(1 - (1 - ties / m) ** n)))
        return out if several else out[0]
    import torch

    sigma = float(noise)
    step = grid_step or sigma / 25
    y = torch.arange(values.min() - 8 * sigma, best + 8 * sigma + step, step, dtype=torch.float64)
    v = torch.from_numpy(values)
    optimal = torch.from_numpy((values == best).astype(np.float64))
    sums = torch.zeros(4, len(y), dtype=torch.float64)  # F, Σ v φ, Σ v² φ, Σ_opt φ (each / M)
    for start in range(0, len(y), 256):
        z = (y[start:start + 256, None] - v[None, :]) / sigma
        pdf = torch.exp(-0.5 * z * z) / (sigma * (2 * torch.pi) ** 0.5)
        sums[0, start:start + 256] = torch.special.ndtr(z).mean(1)
        sums[1, start:start + 256] = (pdf * v).mean(1)
        sums[2, start:start + 256] = (pdf * v * v).mean(1)
        sums[3, start:start + 256] = (pdf * optimal).mean(1)
    for n in counts:
        tail = n * sums[0] ** (n - 1)
        mean, second, p_opt = (float(torch.trapezoid(tail * sums[i], y)) for i in (1, 2, 3))
        out.append(RandomSearchExpectation(mean, max(second - mean * mean, 0.0) ** 0.5, p_opt))
    return out if several else out[0]


def top_cells(table: NB201Table, scores: np.ndarray, k: int, candidates: np.ndarray | None = None) -> list[list[int]]:
    """The token sequences of the ``k`` cells with the highest ``scores`` (index order; ties: lower index
    first), among ``candidates`` (benchmark indices; default: all cells): a warm start."""
    pool = np.arange(NB201_CELLS) if candidates is None else np.asarray(candidates)
    order = pool[np.lexsort((pool, -np.asarray(scores, dtype=np.float64)[pool]))]
    return [tokens_of_index(table, int(i)) for i in order[:k]]
