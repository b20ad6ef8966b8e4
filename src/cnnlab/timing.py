"""Wall-clock timing that survives a noisy machine: warm-up runs, then the median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext

import torch

from cnnlab.errors import ConfigError

__all__ = ["interleaved_median_seconds", "median_seconds", "pinned_threads"]


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)`` (None keeps the current count), then
    restore the previous count; yields the count in effect."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads must be a positive integer, got {threads!r}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _grad_context(inference: bool):  # noqa: ANN202 - a context manager
    return torch.inference_mode() if inference else nullcontext()


def median_seconds(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, threads: int | None = None,
    inference: bool = True,
) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls, under inference mode
    (``inference=False``: grad mode as the caller has it, e.g. to time a backward pass)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"median_seconds: repeats must be ≥ 1 and warmup ≥ 0, got {repeats}, {warmup}")
    times = []
    with pinned_threads(threads), _grad_context(inference):
        for _ in range(warmup):
            fn()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_seconds(
    fns: Mapping[str, Callable[[], object]], repeats: int = 5, warmup: int = 1, inference: bool = True
) -> dict[str, float]:
    """Median seconds per candidate, one call of each in turn per round, so that load from other
    processes falls on all candidates alike (under inference mode unless ``inference=False``).

    The order rotates by one place each round, so every candidate runs equally often right after
    each other one: what a call leaves behind (caches, allocator state, a hot matmul) does not
    always favour or penalise the same candidate.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"interleaved_median_seconds: repeats must be ≥ 1 and warmup ≥ 0, got {repeats}, {warmup}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    with _grad_context(inference):
        for fn in fns.values():
            for _ in range(warmup):
                fn()
        names = list(fns)
        for round_ in range(repeats if names else 0):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
