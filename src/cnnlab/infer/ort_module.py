"""An onnxruntime ``InferenceSession`` as a callable ``nn.Module``: tensor in, tensor out.

The model is exported with cnnlab's exporter (:func:`cnnlab.infer.export_onnx`, dynamic batch axis) and
run by onnxruntime with

- ``graph_optimization_level = ORT_ENABLE_ALL``: constant folding, Conv+BatchNorm / Conv+activation
  fusion and the layout transforms of onnxruntime's graph optimiser (its "extended" and "layout" levels);
- ``intra_op_num_threads = torch.get_num_threads()`` when the module is built (the same thread count the
  torch path runs with, so timings compare like with like), ``inter_op_num_threads = 1`` and sequential
  execution (a CNN is a chain: parallel branches gain nothing at batch sizes that already fill the cores);
- ``session.intra_op.allow_spinning = 0``: onnxruntime's worker threads otherwise busy-wait after each call
  and take the cores from whatever runs next. Measured here (2 cores, resnet50 at 1x3x224x224): a session
  called right after another one took 75 ms instead of 42, torch eager after a session 100 ms instead of 62;
  without spinning a session alone takes 42.5 ms instead of 41.5.

The module holds no parameters; it is inference only (no autograd through it). The batch axis is free,
every other axis is fixed to the example's: another size is a :class:`ConfigError` naming the shape the
graph was built for. ``copy.deepcopy`` and pickling keep the ONNX bytes and rebuild the session.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.infer.onnx_export import DEFAULT_OPSET, OnnxExport, export_onnx

__all__ = ["ORT_INSTALL_HINT", "OrtModule", "onnxruntime_or_error", "ort_providers", "session_options"]

# onnxruntime, onnx and onnxscript ship in cnnlab's "dev" extra (pyproject.toml)
ORT_INSTALL_HINT = "pip install 'cnnlab[onnx]' (onnxruntime, onnx, onnxscript)"
_DTYPES = {"tensor(float)": torch.float32, "tensor(double)": torch.float64, "tensor(float16)": torch.float16}


def onnxruntime_or_error(where: str):
    """The ``onnxruntime`` module; a ConfigError naming the install command when it is missing."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f"{where}: the onnxruntime backend needs onnxruntime, which is not installed: "
                          f"{ORT_INSTALL_HINT}") from None
    return onnxruntime


def ort_providers(device: torch.device, where: str) -> list[str]:
    """The execution providers for inputs on ``device``: CPU, or CUDA where onnxruntime has it."""
    ort = onnxruntime_or_error(where)
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ConfigError(f"{where}: the installed onnxruntime {ort.__version__} cannot run on {device} (providers "
                      f"{ort.get_available_providers()}); use backend='torch', or install onnxruntime-gpu for CUDA")


def session_options(threads: int, where: str = "OrtModule"):
    """The ``SessionOptions`` every cnnlab onnxruntime session uses (the module docstring says why)."""
    ort = onnxruntime_or_error(where)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _shape_text(shape) -> str:
    return "x".join(str(d) if isinstance(d, int) else "N" for d in shape)


class OrtModule(nn.Module):
    """``forward(x)`` runs the ONNX graph in ``onnx_bytes`` with onnxruntime (see the module docstring).

    ``built_for`` is the example shape the graph was exported at; ``input_shape`` what the graph takes
    (``None`` on a free axis, the batch).
    """

    def __init__(self, onnx_bytes: bytes, built_for: tuple[int, ...], threads: int | None = None,
                 device: torch.device | str = "cpu") -> None:
        super().__init__()
        self._onnx_bytes = bytes(onnx_bytes)
        self.built_for = tuple(int(d) for d in built_for)
        self.threads = torch.get_num_threads() if threads is None else int(threads)
        self.device = torch.device(device)
        self._open()

    def _open(self) -> None:
        ort = onnxruntime_or_error("OrtModule")
        options = session_options(self.threads)
        providers = ort_providers(self.device, "OrtModule")
        try:
            self._session = ort.InferenceSession(self._onnx_bytes, options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types (Fail, InvalidGraph, ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"OrtModule: onnxruntime {ort.__version__} cannot load the exported graph: "
                              f"{first}") from None
        graph_input = self._session.get_inputs()[0]
        self._input_name = graph_input.name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in graph_input.shape)
        self.input_dtype = _DTYPES.get(graph_input.type, torch.float32)
        self.providers = self._session.get_providers()

    @classmethod
    def from_model(cls, model: nn.Module, example_input: torch.Tensor, exporter: str = "auto",
                   opset: int = DEFAULT_OPSET, threads: int | None = None) -> tuple[OrtModule, OnnxExport]:
        """Export an eval-mode CPU copy of ``model`` at ``example_input``'s shape (batch axis dynamic) and
        open it; returns the module and how it was exported. ``model`` itself is not changed."""
        import copy

        onnxruntime_or_error("optimize_for_inference")
        ort_providers(example_input.device, "optimize_for_inference")  # before the (slow) export
        work = copy.deepcopy(model).cpu().eval()
        with tempfile.TemporaryDirectory(prefix="cnnlab-ort-") as folder:
            exported = export_onnx(work, Path(folder) / "model.onnx", tuple(example_input.shape),
                                   dynamic_batch=True, opset=opset, exporter=exporter)
            data = exported.path.read_bytes()
        return cls(data, tuple(example_input.shape), threads, example_input.device), exported

    def _check(self, x: object) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ConfigError(f"OrtModule: input must be a tensor, got {type(x).__name__}")
        fits = x.dim() == len(self.input_shape) and all(
            want is None or want == got for want, got in zip(self.input_shape, x.shape, strict=False))
        if not fits:
            raise ConfigError(
                f"OrtModule: input of shape {_shape_text(x.shape)} does not fit the ONNX graph, built for "
                f"{_shape_text(self.built_for)} (it takes {_shape_text(self.input_shape)}, N any batch); "
                f"build another for this shape: optimize_for_inference(model, an input of that shape)")
        if x.dtype != self.input_dtype:
            raise ConfigError(f"OrtModule: input dtype {x.dtype} differs from the graph's {self.input_dtype} "
                              f"(built for {_shape_text(self.built_for)} {self.input_dtype})")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        x = self._check(x)
        array = x.detach().to("cpu").contiguous().numpy()
        outputs = [torch.from_numpy(a) for a in self._session.run(None, {self._input_name: array})]
        if x.device.type != "cpu":
            outputs = [o.to(x.device) for o in outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_session", None)  # an InferenceSession cannot be copied: rebuilt from the bytes
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._open()

    def extra_repr(self) -> str:
        return (f"built_for={_shape_text(self.built_for)}, takes={_shape_text(self.input_shape)}, "
                f"threads={self.threads}, providers={self.providers}, onnx_bytes={len(self._onnx_bytes)}")
