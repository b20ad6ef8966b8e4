"""Wall-clock timing that survives a noisy machine: warm-up runs, then the median of repeats.

The one clock of cnnlab: inference optimisation, the comparison's latency columns and the
benchmarks all time through here. Bad arguments (a repeat count of 0, a thread count the machine
does not have) raise :class:`cnnlab.ConfigError` naming them.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext

import torch

from cnnlab.arith.checks import require_int
from cnnlab.errors import ConfigError

__all__ = ["balanced_orders", "interleaved_median_seconds", "max_threads", "median_seconds", "pinned_threads",
           "require_threads", "timed_seconds"]  # fmt: skip


def max_threads() -> int:
    """The most threads a timing may pin: the machine's logical CPUs. More threads than CPUs only
    adds contention, so such a measurement would say nothing about the network."""
    return os.cpu_count() or 1


def require_threads(threads: object, where: str | None = None) -> int:
    """A thread count in ``[1, max_threads()]``."""
    count = require_int("threads", threads, where)
    if not 1 <= count <= max_threads():
        label = f"{where}: threads" if where else "threads"
        raise ConfigError(f"{label} must be between 1 and the {max_threads()} logical CPUs of this machine, "
                          f"got {threads!r}")
    return count


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)`` (None keeps the current count), then
    restore the previous count; yields the count in effect."""
    if threads is not None:
        require_threads(threads)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _grad_context(inference: bool):  # noqa: ANN202 - a context manager
    return torch.inference_mode() if inference else nullcontext()


def _check_counts(repeats: object, warmup: object, where: str) -> None:
    require_int("repeats", repeats, where)
    require_int("warmup", warmup, where)
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"{where}: repeats must be ≥ 1 and warmup ≥ 0, got repeats={repeats}, warmup={warmup}")


def timed_seconds(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, threads: int | None = None,
    inference: bool = True,
) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls, with the thread
    count pinned, under inference mode (``inference=False``: grad mode as the caller has it, e.g. to
    time a backward pass)."""
    _check_counts(repeats, warmup, "timed_seconds")
    times = []
    with pinned_threads(threads), _grad_context(inference):
        for _ in range(warmup):
            fn()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return times


def median_seconds(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, threads: int | None = None,
    inference: bool = True,
) -> float:
    """Median of :func:`timed_seconds`."""
    _check_counts(repeats, warmup, "median_seconds")
    return statistics.median(timed_seconds(fn, repeats, warmup, threads, inference))


def balanced_orders(n: int) -> list[list[int]]:
    """Orders of ``range(n)`` in which, over the whole list, each index comes first equally often and each
    ordered pair is adjacent equally often: Williams' balanced Latin square (Williams 1949, Aust. J. Sci.
    Res. A 2:149), n rows for even n, n rows and their reverses for odd n."""
    if n < 2:
        return [list(range(n))]
    first = [0] + [(j + 1) // 2 if j % 2 else n - j // 2 for j in range(1, n)]
    rows = [[(i + shift) % n for i in first] for shift in range(n)]
    return rows + [row[::-1] for row in rows] if n % 2 else rows


def interleaved_median_seconds(
    fns: Mapping[str, Callable[[], object]], repeats: int = 5, warmup: int = 1, inference: bool = True
) -> dict[str, float]:
    """Median seconds per candidate, one call of each in turn per round, so that load from other
    processes falls on all candidates alike (under inference mode unless ``inference=False``).

    Round ``r`` calls the candidates in the order ``balanced_orders(n)[r % len(...)]``: over a whole
    cycle every candidate leads equally often and runs equally often right after each other one, so
    what a call leaves behind (caches, allocator state, a thread pool still spinning) does not always
    favour or penalise the same candidate. (A rotation by one place would not do it: it keeps every
    candidate's predecessor; measured here, onnxruntime run right after torch took 7.7 ms where the
    same session took 4.9 ms after another onnxruntime call, mobilenet_v2 at 1x3x224x224.)
    """
    _check_counts(repeats, warmup, "interleaved_median_seconds")
    times: dict[str, list[float]] = {name: [] for name in fns}
    with _grad_context(inference):
        for fn in fns.values():
            for _ in range(warmup):
                fn()
        names = list(fns)
        orders = balanced_orders(len(names))
        for round_ in range(repeats if names else 0):
            for name in (names[i] for i in orders[round_ % len(orders)]):
                start = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
