"""ONNX export with a dynamic batch axis, and its check against eager PyTorch with onnxruntime.

``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript) is tried first; a model it cannot capture
falls back to the TorchScript exporter (``dynamo=False``). Each exporter writes a range of opsets natively
(:func:`opset_range`, read from the installed torch): the dynamo exporter from torchlib's opset (18) up,
the TorchScript exporter its older range (7 to 20 in torch 2.x); an opset below 18 goes to the TorchScript
exporter, since the dynamo one would only try a version conversion and keep 18 where it fails. The opset
is read back from the written file, so a result never claims an opset the file does not have. The file is
written to a temporary name and moved into place, so a failed export never leaves a half-written ``.onnx``.
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

from cnnlab.arith.checks import require_choice, require_int
from cnnlab.atomic import atomic_path
from cnnlab.errors import ConfigError
from cnnlab.infer.input_size import check_input_size
from cnnlab.infer.outputs import output_errors, tensor_leaves

__all__ = ["OnnxCheck", "OnnxExport", "check_opset", "export_onnx", "opset_range", "verify_onnx"]

EXPORTERS = ("auto", "dynamo", "torchscript")
DEFAULT_OPSET = 18


def opset_range(exporter: str = "auto") -> tuple[int, int]:
    """(lowest, highest) ONNX opset the installed torch's ``exporter`` writes ("auto": either of them)."""
    require_choice("exporter", exporter, EXPORTERS, "opset_range")
    from torch.onnx import _constants  # the exporters' own limits; torch has no public name for them

    try:
        from torch.onnx._internal.exporter._constants import TORCHLIB_OPSET as dynamo_low
    except ImportError:  # pragma: no cover - older torch: the dynamo exporter's first opset
        dynamo_low = DEFAULT_OPSET
    dynamo = (dynamo_low, _constants.ONNX_MAX_OPSET)
    torchscript = (_constants.ONNX_MIN_OPSET, _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)
    if exporter == "dynamo":
        return dynamo
    if exporter == "torchscript":
        return torchscript
    return min(dynamo[0], torchscript[0]), max(dynamo[1], torchscript[1])


def check_opset(opset: object, exporter: str = "auto", where: str = "export_onnx: opset") -> int:
    """``opset`` if the installed torch's ``exporter`` writes it; a ConfigError naming the range otherwise."""
    opset = require_int(where, opset)
    low, high = opset_range(exporter)
    if not low <= opset <= high:
        which = "the installed torch's ONNX exporters write" if exporter == "auto" else \
            f"the installed torch's {exporter} exporter writes"
        raise ConfigError(f"{where} {opset} cannot be written: {which} opsets {low} to {high}")
    return opset


def _exporters_for(opset: int, exporter: str) -> list[str]:
    """The exporters to try, in order, for ``opset``."""
    if exporter != "auto":
        return [exporter]
    return [name for name in ("dynamo", "torchscript") if opset_range(name)[0] <= opset <= opset_range(name)[1]]


def _written_opset(path: Path) -> int | None:
    """The default-domain opset recorded in the ONNX file at ``path``."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


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
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)  # shape checks traced as constants
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
    opset = check_opset(opset, exporter)
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"export_onnx: {path} is a folder; give the path of the .onnx file to write")
    example = torch.randn(size)
    writers = {"dynamo": _export_dynamo, "torchscript": _export_torchscript}
    candidates = _exporters_for(opset, exporter)
    failures: list[str] = []
    with atomic_path(path) as tmp:
        with _eval_mode(model), torch.no_grad():
            for used in candidates:
                try:
                    writers[used](model, example, tmp, dynamic_batch, opset)
                    break
                except OSError:
                    raise  # the file could not be written: not the exporter's failure
                except Exception as exc:  # noqa: BLE001 - any capture or conversion failure
                    failures.append(f"{used}: {_first_line(exc)}")
                    if used != candidates[-1]:
                        warnings.warn(f"export_onnx: {used} exporter failed ({_first_line(exc)}); "
                                      f"using the {candidates[-1]} exporter", stacklevel=2)
            else:
                raise ConfigError(f"export_onnx: {type(model).__name__} could not be exported at opset {opset} "
                                  f"({'; '.join(failures)})")
        written = _written_opset(tmp)
        if written != opset:
            raise ConfigError(f"export_onnx: the {used} exporter wrote opset {written}, not the requested {opset}")
    fallback_reason = failures[0].partition(": ")[2] if failures else None
    return OnnxExport(path, used, written, dynamic_batch, path.stat().st_size, fallback_reason)


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a dev dependency
        raise ConfigError("verify_onnx needs onnxruntime (pip install onnxruntime)") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types (Fail, InvalidGraph, ...)
        raise ConfigError(f"verify_onnx: onnxruntime {ort.__version__} cannot load {path}: {_first_line(exc)}") \
            from None


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
