"""``optimize_for_inference``: BatchNorm folding, channels_last where it is faster, optional torch.compile.

On CPU the wins come from (1) removing every BatchNorm pass over the activations by folding it into the
conv before it, (2) the channels_last (NHWC) layout, which oneDNN convolves without reordering and which
turns depthwise convolutions from strided gathers into contiguous vector loads, and (3) inductor's
``freezing``, which pre-packs the weights for oneDNN and fuses the element-wise tails into the convs.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.infer.fold_bn import FoldReport, fold_batchnorm_
from cnnlab.infer.outputs import output_errors
from cnnlab.timing import interleaved_median_seconds

__all__ = ["InferenceInfo", "optimize_for_inference"]

CHANNELS_LAST_CHOICES = (True, False, "auto")


@dataclass
class InferenceInfo:
    """What ``optimize_for_inference`` decided, attached to the result as ``cnnlab_inference_info``."""

    fold: FoldReport | None
    channels_last: bool
    channels_last_reason: str
    layout_ms: dict[str, float] = field(default_factory=dict)  # median ms per layout tried
    compiled: bool = False
    compile_seconds: float | None = None
    compile_error: str | None = None
    max_abs_error: float = float("nan")  # vs the original model on the example input
    max_rel_error: float = float("nan")  # max |diff| / max |original output|

    def summary(self) -> str:
        fold = str(self.fold) if self.fold is not None else "BatchNorm folding off"
        layout = f"channels_last={self.channels_last} ({self.channels_last_reason})"
        if self.compiled:
            comp = f"torch.compile in {self.compile_seconds:.1f} s"
        else:
            comp = f"not compiled ({self.compile_error})" if self.compile_error else "not compiled"
        return f"{fold}; {layout}; {comp}; max rel error {self.max_rel_error:.1e}"


def _check_args(model: object, example_input: object, channels_last: object, repeats: object) -> None:
    require_positive("repeats", repeats, "optimize_for_inference")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"optimize_for_inference: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise ConfigError(
            f"optimize_for_inference: example_input must be a tensor, got {type(example_input).__name__}"
        )
    if channels_last not in CHANNELS_LAST_CHOICES or not isinstance(channels_last, (bool, str)):
        raise ConfigError(
            f"optimize_for_inference: channels_last must be one of {list(CHANNELS_LAST_CHOICES)}, "
            f"got {channels_last!r}"
        )


def _choose_layout(
    model: nn.Module, example_input: torch.Tensor, channels_last: bool | str, repeats: int
) -> tuple[nn.Module, bool, str, dict[str, float]]:
    """The model in the chosen memory format, whether it is channels_last, why, and the timings."""
    if channels_last is False:
        return model, False, "off", {}
    if example_input.dim() != 4:
        return model, False, f"input is {example_input.dim()}-D, channels_last needs 4-D", {}
    if channels_last is True:
        return model.to(memory_format=torch.channels_last), True, "requested", {}
    candidates = {"contiguous": model, "channels_last": copy.deepcopy(model).to(memory_format=torch.channels_last)}
    seconds = interleaved_median_seconds(
        {name: (lambda m=m: m(example_input)) for name, m in candidates.items()}, repeats=repeats, warmup=1
    )
    timings = {name: 1e3 * s for name, s in seconds.items()}
    faster = timings["channels_last"] < timings["contiguous"]
    ratio = timings["contiguous"] / timings["channels_last"]
    reason = f"auto: channels_last {ratio:.2f}x the speed of contiguous on the example input"
    return candidates["channels_last" if faster else "contiguous"], faster, reason, timings


def _compile(model: nn.Module, example_input: torch.Tensor) -> tuple[nn.Module, float | None, str | None]:
    """torch.compile with inductor weight freezing, warmed on the example; the eager model if it fails."""
    start = time.perf_counter()
    try:
        compiled = torch.compile(model, options={"freezing": True})
        with torch.no_grad():
            compiled(example_input)
    except Exception as exc:  # noqa: BLE001 - a missing compiler shows up as any error type
        message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        warnings.warn(f"optimize_for_inference: torch.compile failed, keeping eager ({message})", stacklevel=3)
        return model, None, message
    return compiled, time.perf_counter() - start, None


def optimize_for_inference(
    model: nn.Module,
    example_input: torch.Tensor,
    fold_bn: bool = True,
    channels_last: bool | str = "auto",
    compile: bool = False,
    repeats: int = 3,
) -> nn.Module:
    """An eval-mode copy of ``model`` with BatchNorm folded, the faster memory layout, and optionally compiled.

    ``model`` itself is never changed. ``channels_last="auto"`` times both layouts on ``example_input``
    (``repeats`` runs each) and keeps the faster. The decisions and the output error against the original
    on ``example_input`` are in ``result.cnnlab_inference_info`` (:class:`InferenceInfo`).
    """
    _check_args(model, example_input, channels_last, repeats)
    work = copy.deepcopy(model).eval()
    with torch.no_grad():
        reference = work(example_input)
    fold = fold_batchnorm_(work, example_input) if fold_bn else None
    if fold is not None and fold.trace_error:
        warnings.warn(
            f"optimize_for_inference: model is not fx-traceable ({fold.trace_error}); "
            f"folded only conv/bn neighbours in nn.Sequential ({len(fold.folded)} found)",
            stacklevel=2,
        )
    work, is_cl, reason, timings = _choose_layout(work, example_input, channels_last, repeats)
    result, compile_seconds, compile_error = work, None, None
    if compile:
        result, compile_seconds, compile_error = _compile(work, example_input)
    with torch.no_grad():
        abs_err, rel_err = output_errors(result(example_input), reference)
    info = InferenceInfo(
        fold=fold, channels_last=is_cl, channels_last_reason=reason, layout_ms=timings,
        compiled=compile and compile_error is None, compile_seconds=compile_seconds,
        compile_error=compile_error, max_abs_error=abs_err, max_rel_error=rel_err,
    )
    result.cnnlab_inference_info = info
    return result
