"""Measured CPU cost of a forward pass: latency (median of repeats) and peak live tensor bytes."""

from __future__ import annotations

import platform
import statistics
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from cnnlab.errors import ConfigError
from cnnlab.timing import pinned_threads

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

    ``warmup`` untimed passes come first (allocator and kernel selection), then ``repeats`` timed
    ones with the thread count pinned. The model's train/eval mode is restored afterwards.
    """
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"latency repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    was_training = model.training
    model.eval()
    x = torch.randn(*input_shape)
    times_ms: list[float] = []
    try:
        with pinned_threads(threads), torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                times_ms.append((time.perf_counter() - start) * 1e3)
    finally:
        model.train(was_training)
    return LatencyResult(
        batch_size=int(input_shape[0]),
        median_ms=statistics.median(times_ms),
        min_ms=min(times_ms),
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
