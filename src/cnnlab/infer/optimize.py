"""``optimize_for_inference``: the fastest of two backends at the example's shape, measured.

``backend="torch"``: an eager copy with (1) every BatchNorm pass over the activations removed by folding
it into the conv before it, (2) the channels_last (NHWC) layout where it is measured faster (oneDNN
convolves it without reordering; depthwise convolutions become contiguous vector loads), and optionally
(3) torch.compile with inductor's ``freezing`` (pre-packed oneDNN weights, element-wise tails fused into
the convs; off by default, see docs/inference.md).
``backend="onnxruntime"``: the model exported by cnnlab's exporter and run by onnxruntime
(:class:`~cnnlab.infer.OrtModule`). ``backend="auto"`` (the default) builds both, checks their outputs
against the original and keeps the faster on the example input (:mod:`cnnlab.infer.backends`).
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.errors import ConfigError
from cnnlab.infer.backends import BackendChoice, check_backend, pick_fastest, synchronised
from cnnlab.infer.fold_bn import FoldReport, fold_batchnorm_
from cnnlab.infer.onnx_export import EXPORTERS, OnnxExport
from cnnlab.infer.ort_module import OrtModule
from cnnlab.infer.outputs import output_errors
from cnnlab.timing import interleaved_median_seconds

__all__ = ["InferenceInfo", "optimize_for_inference"]

CHANNELS_LAST_CHOICES = (True, False, "auto")
TOLERANCE = 1e-4  # max |diff| / max |original output| a backend may have on the example input
log = logging.getLogger(__name__)


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
    backend: str = "torch"  # the backend of the returned module: "torch" or "onnxruntime"
    backend_reason: str = ""  # why: requested, or each backend's median ms on the example (auto)
    backend_ms: dict[str, float] = field(default_factory=dict)  # median ms per backend timed (auto)
    onnx: OnnxExport | None = None  # how the onnxruntime backend's graph was exported, when built

    def summary(self) -> str:
        if self.backend == "onnxruntime":
            how = f"{self.onnx.exporter} exporter, opset {self.onnx.opset}" if self.onnx else "exported"
            return f"onnxruntime backend ({how}); {self.backend_reason}; max rel error {self.max_rel_error:.1e}"
        fold = str(self.fold) if self.fold is not None else "BatchNorm folding off"
        layout = f"channels_last={self.channels_last} ({self.channels_last_reason})"
        if self.compiled:
            comp = f"torch.compile in {self.compile_seconds:.1f} s"
        else:
            comp = f"not compiled ({self.compile_error})" if self.compile_error else "not compiled"
        text = f"{fold}; {layout}; {comp}; max rel error {self.max_rel_error:.1e}"
        return f"torch backend: {text}; {self.backend_reason}" if self.backend_reason else text


def _check_args(model: object, example_input: object, channels_last: object, repeats: object,
                backend: object, onnx_exporter: object) -> None:
    check_backend(backend)
    require_choice("onnx_exporter", onnx_exporter, EXPORTERS, "optimize_for_inference")
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
        {name: synchronised(lambda m=m: m(example_input), example_input.device) for name, m in candidates.items()},
        repeats=repeats, warmup=1,
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


def _torch_backend(
    work: nn.Module, example_input: torch.Tensor, fold_bn: bool, channels_last: bool | str, compile: bool,
    repeats: int,
) -> tuple[nn.Module, InferenceInfo]:
    """The torch backend from the eval-mode copy ``work`` (changed in place); errors filled in later."""
    fold = fold_batchnorm_(work, example_input) if fold_bn else None
    if fold is not None and fold.trace_error:
        warnings.warn(
            f"optimize_for_inference: model is not fx-traceable ({fold.trace_error}); "
            f"folded only conv/bn neighbours in nn.Sequential ({len(fold.folded)} found)",
            stacklevel=3,
        )
    work, is_cl, reason, timings = _choose_layout(work, example_input, channels_last, repeats)
    result, compile_seconds, compile_error = work, None, None
    if compile:
        result, compile_seconds, compile_error = _compile(work, example_input)
    info = InferenceInfo(
        fold=fold, channels_last=is_cl, channels_last_reason=reason, layout_ms=timings,
        compiled=compile and compile_error is None, compile_seconds=compile_seconds, compile_error=compile_error,
    )
    return result, info


def _ort_backend(model: nn.Module, example_input: torch.Tensor, onnx_exporter: str) -> tuple[nn.Module, InferenceInfo]:
    ort_model, exported = OrtModule.from_model(model, example_input, exporter=onnx_exporter)
    info = InferenceInfo(fold=None, channels_last=False, channels_last_reason="onnxruntime chooses its own layout",
                         backend="onnxruntime", onnx=exported)
    return ort_model, info


def optimize_for_inference(
    model: nn.Module,
    example_input: torch.Tensor,
    backend: str = "auto",
    fold_bn: bool = True,
    channels_last: bool | str = "auto",
    compile: bool = False,
    repeats: int = 3,
    onnx_exporter: str = "auto",
) -> nn.Module:
    """A fast eval-mode module computing what ``model`` computes, for inputs shaped like ``example_input``.

    ``backend``: "torch" (an ``nn.Module`` copy with BatchNorm folded, the faster memory layout, and
    optionally ``compile``), "onnxruntime" (an :class:`~cnnlab.infer.OrtModule`; batch axis free, other
    axes fixed to the example's) or "auto": both built, each checked to match ``model`` within 1e-4 on
    ``example_input`` (relative to the largest output), timed there (``repeats`` runs each after a warm-up)
    and the faster returned; a backend that cannot be built is skipped, saying why. ``model`` itself is
    never changed. ``channels_last="auto"`` times both layouts for the torch backend and keeps the faster.
    What was decided, each backend's time and the output error against the original are in
    ``result.cnnlab_inference_info`` (:class:`InferenceInfo`; ``.backend`` names the one returned) and in
    an INFO line of the ``cnnlab.infer.optimize`` logger.
    """
    _check_args(model, example_input, channels_last, repeats, backend, onnx_exporter)
    work = copy.deepcopy(model).eval()
    with torch.no_grad():
        reference = work(example_input)
    built: dict[str, tuple[nn.Module, InferenceInfo]] = {}
    skipped: dict[str, str] = {}
    if backend in ("auto", "torch"):
        built["torch"] = _torch_backend(work, example_input, fold_bn, channels_last, compile, repeats)
    if backend in ("auto", "onnxruntime"):
        try:
            built["onnxruntime"] = _ort_backend(model, example_input, onnx_exporter)
        except ConfigError as exc:
            if backend == "onnxruntime":
                raise
            skipped["onnxruntime"] = str(exc)
    for name, (module, info) in list(built.items()):
        with torch.no_grad():
            info.max_abs_error, info.max_rel_error = output_errors(module(example_input), reference)
        if backend == "auto" and not info.max_rel_error <= TOLERANCE and len(built) > 1:
            skipped[name] = f"outputs differ from the model's by {info.max_rel_error:.1e} (relative) > {TOLERANCE}"
            del built[name]
    if backend == "auto" and len(built) > 1:
        choice = pick_fastest({name: module for name, (module, _) in built.items()}, example_input,
                              repeats=repeats, skipped=skipped)
    else:
        choice = BackendChoice(next(iter(built)), skipped=skipped)
    result, info = built[choice.backend]
    info.backend, info.backend_ms = choice.backend, choice.ms
    info.backend_reason = choice.reason if backend == "auto" else "requested"
    result.cnnlab_inference_info = info
    log.info("optimize_for_inference: %s backend for input %s (%s)", choice.backend,
             "x".join(map(str, example_input.shape)), info.backend_reason)
    return result
