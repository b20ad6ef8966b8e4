"""The compute columns of one model: params, MACs, FLOPs, receptive field, memory, CPU latency."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from cnnlab.arith.checks import require_non_negative, require_positive
from cnnlab.compare.latency import measure_latency, measure_peak_forward_bytes
from cnnlab.errors import ConfigError
from cnnlab.timing import require_threads

__all__ = ["ComputeMeasurement", "LatencySettings", "measure_compute", "stage_table_of"]


@dataclass(frozen=True)
class LatencySettings:
    """How the latency columns are timed (checked on creation: ``threads`` at most the machine's
    logical CPUs, see :func:`cnnlab.timing.require_threads`)."""

    batch_sizes: tuple[int, ...] = (1, 32)
    warmup: int = 3
    repeats: int = 10
    threads: int = 1

    def __post_init__(self) -> None:
        where = "latency"
        for size in self.batch_sizes:
            require_positive("batch size", size, where)
        require_non_negative("warmup", self.warmup, where)
        require_positive("repeats", self.repeats, where)
        require_threads(self.threads, where)


@dataclass
class ComputeMeasurement:
    params: int
    macs: int
    flops: int | None
    receptive_field_px: str | None
    peak_activation_bytes: int | None
    measured_peak_bytes: int | None
    latency_ms: dict[int, float]  # batch size -> median ms per forward pass


def _receptive_field_text(report: object) -> str | None:
    field = getattr(report, "receptive_field", None)
    size = getattr(field, "size", None)
    if size is None:
        return None
    if isinstance(size, (int, float)):
        return f"{size:g}"
    height, width = size
    return f"{height:g}" if height == width else f"{height:g}x{width:g}"


def measure_compute(model: nn.Module, input_chw: tuple[int, int, int], latency: LatencySettings) -> ComputeMeasurement:
    """Counts from ``cnnlab.inspect`` at batch 1, plus measured memory and latency on this CPU."""
    from cnnlab.analysis import inspect

    report = inspect(model, input_size=(1, *input_chw))
    latency_ms = {
        batch: measure_latency(
            model, (batch, *input_chw), warmup=latency.warmup, repeats=latency.repeats, threads=latency.threads
        ).median_ms
        for batch in latency.batch_sizes
    }
    return ComputeMeasurement(
        params=int(report.params),
        macs=int(report.macs),
        flops=None if getattr(report, "flops", None) is None else int(report.flops),
        receptive_field_px=_receptive_field_text(report),
        peak_activation_bytes=getattr(report, "peak_activation_bytes", None),
        measured_peak_bytes=measure_peak_forward_bytes(model, (1, *input_chw)),
        latency_ms=latency_ms,
    )


def stage_table_of(model: nn.Module, input_chw: tuple[int, int, int]) -> object:
    """``cnnlab.analysis.stage_table`` of the model at the comparison's input size.

    A model the stage table cannot render (an exotic module) gets the reason as text instead, so a
    long training run never loses its report to it; the reason is shown in the report.
    """
    from cnnlab.analysis import stage_table

    try:
        return stage_table(model, input_size=(1, *input_chw))
    except ConfigError as exc:
        return f"No stage table for {type(model).__name__}: {exc}"
