"""Timing helpers: the interleaved order is balanced so no candidate always follows the same one."""

from __future__ import annotations

from collections import Counter

import pytest

from cnnlab.timing import balanced_orders, interleaved_median_seconds, median_seconds


def _recorder(log: list[str], name: str):
    return lambda: log.append(name)


@pytest.mark.parametrize("n", range(1, 10))
def test_balanced_orders_are_a_williams_design(n: int) -> None:
    # the defining properties of a balanced Latin square (Williams 1949): every row a permutation, every
    # index first equally often, every ordered pair of distinct indices adjacent equally often
    rows = balanced_orders(n)
    assert len(rows) == (n if n % 2 == 0 or n == 1 else 2 * n)
    assert all(sorted(row) == list(range(n)) for row in rows)
    assert len(set(Counter(row[0] for row in rows).values())) == 1
    pairs = Counter((row[i], row[i + 1]) for row in rows for i in range(n - 1))
    assert len(pairs) == n * (n - 1) and len(set(pairs.values())) <= 1


def test_interleaved_calls_follow_the_balanced_orders() -> None:
    log: list[str] = []
    names = ["a", "b", "c", "d"]
    result = interleaved_median_seconds({n: _recorder(log, n) for n in names}, repeats=8, warmup=1)
    assert set(result) == set(names)
    timed = log[len(names):]  # after one warm-up call each
    rounds = [timed[i:i + 4] for i in range(0, len(timed), 4)]
    assert rounds == [[names[i] for i in order] for order in balanced_orders(4) * 2]
    # no candidate always runs right after the same one
    follows = Counter((r[i], r[i + 1]) for r in rounds for i in range(3))
    assert all(follows[(x, y)] == 2 for x in names for y in names if x != y)


def test_interleaved_with_no_candidates_is_empty() -> None:
    assert interleaved_median_seconds({}, repeats=3) == {}


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (1, -1)])
def test_bad_repeat_counts_are_refused(repeats: int, warmup: int) -> None:
    with pytest.raises(ValueError, match="repeats"):
        median_seconds(lambda: None, repeats=repeats, warmup=warmup)
    with pytest.raises(ValueError, match="repeats"):
        interleaved_median_seconds({"a": lambda: None}, repeats=repeats, warmup=warmup)
