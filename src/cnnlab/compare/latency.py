"""Measured CPU cost of a forward pass: latency (median of repeats) and peak live tensor bytes."""

from __future__ import annotations

import platform
import statistics
import weakref
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from cnnlab.arith.checks import require_non_negative, require_positive
from cnnlab.timing import require_threads, timed_seconds

__all__ = ["LatencyResult", "cpu_model", "measure_latency", "measure_peak_forward_bytes"]


@dataclass(frozen=True)
class LatencyResult:
    """Wall time of one forward pass of one batch, in milliseconds."""

    batch_size: int
    median_ms: float
    min_ms: float
    repeats: int
    threads: int


def measure_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    warmup: int = 3,
    repeats: int = 10,
    threads: int = 1,
) -> LatencyResult:
    """Median wall time of ``model(x)`` for a random ``x`` of ``input_shape`` in eval/inference mode.

    Timed by :func:`cnnlab.timing.timed_seconds`: ``warmup`` untimed passes first (allocator and kernel
    selection), then ``repeats`` timed ones with the thread count pinned. The model's train/eval mode
    is restored afterwards.
    """
    require_positive("repeats", repeats, "latency")
    require_non_negative("warmup", warmup, "latency")
    require_threads(threads, "latency")
    was_training = model.training
    model.eval()
    x = torch.randn(*input_shape)
    try:
        seconds = timed_seconds(lambda: model(x), repeats=repeats, warmup=warmup, threads=threads, inference=True)
    finally:
        model.train(was_training)
    return LatencyResult(
        batch_size=int(input_shape[0]),
        median_ms=1e3 * statistics.median(seconds),
        min_ms=1e3 * min(seconds),
        repeats=repeats,
        threads=threads,
    )


class _LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes of tensors created by torch ops that are still referenced, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = set()

    def _release(self, key: int, nbytes: int) -> None:
        self._seen.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        for tensor in outputs:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key = storage.data_ptr()
            if key in self._seen or storage.nbytes() == 0:
                continue  # an in-place op or a view of a tensor already counted
            self._seen.add(key)
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            weakref.finalize(tensor, self._release, key, storage.nbytes())
        return out


def measure_peak_forward_bytes(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Peak bytes of intermediate tensors alive at once during one real inference forward pass.

    Counted at the dispatcher: every tensor an op returns is added when created and removed when
    freed; the input and the weights are not included. An independent check of the analytic
    ``peak_activation_bytes`` of ``cnnlab.inspect``.
    """
    was_training = model.training
    model.eval()
    x = torch.randn(*input_shape)
    tracker = _LiveTensorBytes()
    try:
        with torch.inference_mode(), tracker:
            out = model(x)
            del out
    finally:
        model.train(was_training)
    return tracker.peak


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for the machine line of reports and benchmarks."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
