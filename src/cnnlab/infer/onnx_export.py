"""ONNX export with a dynamic batch axis, and its check against eager PyTorch with onnxruntime.

``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript) is tried first; a model it cannot capture
falls back to the TorchScript exporter (``dynamo=False``). The file is written to a temporary name and
moved into place, so a failed export never leaves a half-written ``.onnx`` behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from cnnlab.arith.checks import require_choice
from cnnlab.atomic import atomic_path
from cnnlab.errors import ConfigError
from cnnlab.infer.input_size import check_input_size
from cnnlab.infer.outputs import output_errors, tensor_leaves

__all__ = ["OnnxCheck", "OnnxExport", "export_onnx", "verify_onnx"]

EXPORTERS = ("auto", "dynamo", "torchscript")
DEFAULT_OPSET = 18


@dataclass
class OnnxExport:
    """Where and how a model was exported."""

    path: Path
    exporter: str  # "dynamo" or "torchscript"
    opset: int
    dynamic_batch: bool
    file_bytes: int
    fallback_reason: str | None = None  # why the dynamo exporter was not used


@dataclass
class OnnxCheck:
    """onnxruntime vs eager PyTorch on the same inputs; relative error = max |diff| / max |eager|."""

    max_abs_error: float
    max_rel_error: float
    batch_sizes: list[int] = field(default_factory=list)

    def ok(self, rtol: float = 1e-4) -> bool:
        return self.max_rel_error <= rtol


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Evaluate ``model`` in eval mode and give it back in the mode it came in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _export_dynamo(model, example, path, dynamic_batch, opset) -> None:
    shapes = ({0: torch.export.Dim("batch")},) if dynamic_batch else None
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its progress
        torch.onnx.export(
            model, (example,), str(path), dynamo=True, input_names=["input"], opset_version=opset,
            dynamic_shapes=shapes, external_data=False, verbose=False,
        )


def _export_torchscript(model, example, path, dynamic_batch, opset) -> None:
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model, (example,), str(path), dynamo=False, input_names=["input"], output_names=["output"],
            opset_version=opset, dynamic_axes=axes,
        )


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    input_size: tuple[int, ...],
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    exporter: str = "auto",
) -> OnnxExport:
    """Export ``model`` (in eval mode; its mode is restored) to ``path`` for inputs of ``input_size``."""
    if not isinstance(model, nn.Module):
        raise ConfigError(f"export_onnx: model must be an nn.Module, got {type(model).__name__}")
    size = check_input_size(input_size, "export_onnx: input_size")
    require_choice("exporter", exporter, EXPORTERS, "export_onnx")
    path = Path(path)
    example = torch.randn(size)
    used, fallback_reason = exporter, None
    with atomic_path(path) as tmp:
        with _eval_mode(model), torch.no_grad():
            if exporter in ("auto", "dynamo"):
                try:
                    _export_dynamo(model, example, tmp, dynamic_batch, opset)
                    used = "dynamo"
                except Exception as exc:  # noqa: BLE001 - any capture failure
                    if exporter == "dynamo":
                        raise
                    fallback_reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                    warnings.warn(f"export_onnx: dynamo exporter failed ({fallback_reason}); "
                                  "using the TorchScript exporter", stacklevel=2)
            if used != "dynamo":
                _export_torchscript(model, example, tmp, dynamic_batch, opset)
                used = "torchscript"
    return OnnxExport(path, used, opset, dynamic_batch, path.stat().st_size, fallback_reason)


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a dev dependency
        raise ConfigError("verify_onnx needs onnxruntime (pip install onnxruntime)") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def verify_onnx(
    path: str | os.PathLike, model: nn.Module, inputs: torch.Tensor | list[torch.Tensor]
) -> OnnxCheck:
    """Run the ONNX file with onnxruntime and ``model`` in eager PyTorch on each input; compare outputs."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"verify_onnx: no ONNX file at {path}")
    inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    session = _session(path)
    input_name = session.get_inputs()[0].name
    worst_abs = worst_rel = 0.0
    with _eval_mode(model), torch.no_grad():
        for x in inputs:
            expected = tensor_leaves(model(x))
            got = [torch.from_numpy(a) for a in session.run(None, {input_name: x.contiguous().numpy()})]
            if len(got) != len(expected):
                raise ConfigError(f"verify_onnx: {path} has {len(got)} outputs, the model {len(expected)}")
            abs_err, rel_err = output_errors(got, expected)
            worst_abs, worst_rel = max(worst_abs, abs_err), max(worst_rel, rel_err)
    return OnnxCheck(worst_abs, worst_rel, [int(x.shape[0]) for x in inputs])
