"""Timing helpers: the interleaved order rotates so no candidate always follows the same one."""

from __future__ import annotations

from collections import Counter

import pytest

from cnnlab.timing import interleaved_median_seconds, median_seconds


def _recorder(log: list[str], name: str):
    return lambda: log.append(name)


def test_interleaved_order_rotates_every_round() -> None:
    log: list[str] = []
    names = ["a", "b", "c"]
    result = interleaved_median_seconds({n: _recorder(log, n) for n in names}, repeats=6, warmup=1)
    assert set(result) == set(names)
    timed = log[len(names):]  # after one warm-up call each
    rounds = [timed[i:i + 3] for i in range(0, len(timed), 3)]
    assert rounds[:3] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    # Over whole cycles every candidate leads the round equally often.
    assert Counter(r[0] for r in rounds) == {"a": 2, "b": 2, "c": 2}


def test_interleaved_with_no_candidates_is_empty() -> None:
    assert interleaved_median_seconds({}, repeats=3) == {}


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (1, -1)])
def test_bad_repeat_counts_are_refused(repeats: int, warmup: int) -> None:
    with pytest.raises(ValueError, match="repeats"):
        median_seconds(lambda: None, repeats=repeats, warmup=warmup)
    with pytest.raises(ValueError, match="repeats"):
        interleaved_median_seconds({"a": lambda: None}, repeats=repeats, warmup=warmup)
