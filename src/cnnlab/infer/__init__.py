"""Inference path: BatchNorm folding, channels_last, torch.compile, ONNX export checked by onnxruntime, an
onnxruntime session as a module, and ``optimize_for_inference(backend="auto")`` keeping the faster backend.

Works on any ``nn.Module`` (cnnlab's or not); imports nothing from ``cnnlab.nets``.
"""

from __future__ import annotations

from cnnlab.infer.backends import BACKENDS, BackendChoice, pick_fastest
from cnnlab.infer.fold_bn import FoldReport, fold_batchnorm_, fold_scale_shift
from cnnlab.infer.input_size import check_input_for, check_input_size, example_input_size, parse_input_size
from cnnlab.infer.onnx_export import OnnxCheck, OnnxExport, check_opset, export_onnx, opset_range, verify_onnx
from cnnlab.infer.optimize import InferenceInfo, optimize_for_inference
from cnnlab.infer.ort_module import OrtModule
from cnnlab.infer.outputs import output_errors
from cnnlab.timing import median_seconds, pinned_threads

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "FoldReport",
    "InferenceInfo",
    "OnnxCheck",
    "OnnxExport",
    "OrtModule",
    "check_input_for",
    "check_opset",
    "check_input_size",
    "example_input_size",
    "export_onnx",
    "fold_batchnorm_",
    "fold_scale_shift",
    "median_seconds",
    "optimize_for_inference",
    "opset_range",
    "output_errors",
    "parse_input_size",
    "pick_fastest",
    "pinned_threads",
    "verify_onnx",
]
