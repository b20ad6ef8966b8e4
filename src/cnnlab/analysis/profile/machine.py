"""This machine's two roofs, measured in the calling process: the matrix-multiply peak and memory bandwidth.

The peak is measured as ``benchmarks/inference.py`` measures it for its "% of peak" columns: the best rate
of square fp32 ``torch.mm`` over a few sizes (n³ multiply-accumulates, 2 n³ FLOPs each). The bandwidth is
the best rate of two STREAM-style kernels (McCalpin 1995) on arrays far larger than any cache: a copy
(``y.copy_(x)``: one read, one write) and an add (``z = x + y``: two reads, one write). Both are timed by
:mod:`cnnlab.timing` (warm-up, then repeats) with the same thread count as the network, so the roofline of
Williams, Waterman & Patterson (CACM 2009) is drawn for the machine the network ran on. A roof is the best
the machine can do, so each kernel's rate is that of its fastest repeat (the benchmark takes the median; on a
busy machine a long kernel's median counts the time other processes held the core, and units shorter than a
time slice, which mostly escape that, would then sit above the roofs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.timing import pinned_threads, timed_seconds

__all__ = ["GEMM_SIZES", "STREAM_ELEMENTS", "Machine", "gemm", "measure_machine"]

GEMM_SIZES = (256, 512, 1024)  # benchmarks/inference.py takes 1024, 2048, 3072: longer, preempted more often
STREAM_ELEMENTS = 1 << 24  # 16 Mi float32 = 64 MiB per array: beyond the last-level cache


@dataclass(frozen=True)
class Machine:
    """The roofs: ``peak_flops`` (FLOP/s, 2 per multiply-accumulate) and ``bandwidth_bytes_per_s``."""

    peak_flops: float
    bandwidth_bytes_per_s: float
    threads: int
    how: str = ""

    def __post_init__(self) -> None:
        for name in ("peak_flops", "bandwidth_bytes_per_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ConfigError(f"Machine: {name} must be a positive number, got {value!r}")

    @property
    def ridge_intensity(self) -> float:
        """FLOPs per byte where the two roofs meet: below it a unit is bound by memory, above by compute."""
        return self.peak_flops / self.bandwidth_bytes_per_s

    def attainable_flops(self, intensity: float) -> float:
        """The roofline: ``min(peak, intensity × bandwidth)`` in FLOP/s."""
        return min(self.peak_flops, intensity * self.bandwidth_bytes_per_s)


def gemm(n: int):  # noqa: ANN201 - a timed callable
    """An n x n x n fp32 ``torch.mm`` (n³ MACs, 2 n³ FLOPs): ``sgemm`` of benchmarks/inference.py."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return lambda: torch.mm(a, b)


def _best_seconds(fn, repeats: int, warmup: int) -> float:  # noqa: ANN001 - a timed callable
    return min(timed_seconds(fn, repeats, warmup))


def measure_machine(threads: int | None = None, repeats: int = 20, warmup: int = 1,
                    gemm_sizes: tuple[int, ...] = GEMM_SIZES, stream_elements: int = STREAM_ELEMENTS) -> Machine:
    """Measure both roofs now, in this process, with ``threads`` threads (None: torch's current count)."""
    for n in gemm_sizes:
        require_positive("gemm size", n, "measure_machine")
    require_positive("stream_elements", stream_elements, "measure_machine")
    with pinned_threads(threads) as count:
        peak = max(2 * n**3 / _best_seconds(gemm(n), repeats, warmup) for n in gemm_sizes)
        x = torch.rand(stream_elements)
        y = torch.rand(stream_elements)
        z = torch.empty(stream_elements)
        size = x.numel() * x.element_size()
        copy_rate = 2 * size / _best_seconds(lambda: y.copy_(x), repeats, warmup)
        add_rate = 3 * size / _best_seconds(lambda: torch.add(x, y, out=z), repeats, warmup)
    how = (f"peak: best of fp32 torch.mm at {', '.join(f'{n}³' for n in gemm_sizes)} (2 FLOPs per MAC); "
           f"bandwidth: best of a copy ({copy_rate / 1e9:.1f} GB/s) and an add ({add_rate / 1e9:.1f} GB/s) of "
           f"{size / 2**20:.0f} MiB float32 arrays; fastest of {repeats} after {warmup} warm-up, {count} thread(s)")
    return Machine(peak, max(copy_rate, add_rate), count, how)
