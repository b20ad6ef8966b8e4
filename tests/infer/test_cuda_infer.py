"""optimize_for_inference on a GPU: the torch backend keeps the model's outputs on CUDA, auto only offers
onnxruntime where it has a CUDA provider, and the onnxruntime backend says so where it has none.

Skipped where no CUDA device is present (tests/conftest.py).
"""

from __future__ import annotations

import pytest
import torch
import torchvision

from cnnlab import ConfigError
from cnnlab.infer import OrtModule, optimize_for_inference

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _full_float32(monkeypatch):
    """No TF32 in cuDNN or cuBLAS: the optimized model and the original then agree to float32 rounding."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


def _ort_has_cuda() -> bool:
    try:
        import onnxruntime
    except ImportError:
        return False
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_torch_backend_on_cuda_matches_eager(name, bn_tools):
    model = bn_tools.randomise(getattr(torchvision.models, name)(num_classes=10)).cuda().eval()
    x = torch.randn(4, 3, 64, 64, device="cuda")
    fast = optimize_for_inference(model, x, backend="torch")
    info = fast.cnnlab_inference_info
    assert info.backend == "torch" and len(info.fold.folded) > 0 and bn_tools.count(fast) == 0
    assert set(info.layout_ms) == {"contiguous", "channels_last"}  # both layouts timed on the GPU
    assert all(p.is_cuda for p in fast.parameters())
    with torch.no_grad():
        got, want = fast(x), model(x)
    assert got.is_cuda
    bn_tools.assert_close(got, want)


def test_auto_on_cuda_keeps_a_backend_that_runs_there(bn_tools):
    model = bn_tools.randomise(torchvision.models.resnet18(num_classes=10)).cuda().eval()
    x = torch.randn(2, 3, 64, 64, device="cuda")
    fast = optimize_for_inference(model, x, backend="auto", onnx_exporter="torchscript")
    info = fast.cnnlab_inference_info
    if _ort_has_cuda():
        assert set(info.backend_ms) == {"torch", "onnxruntime"}
        assert info.backend == min(info.backend_ms, key=info.backend_ms.get)
    else:  # onnxruntime without a CUDA provider (or none at all) is skipped, saying why
        assert info.backend == "torch" and "onnxruntime skipped" in info.backend_reason
    with torch.no_grad():
        got = fast(x)
    assert got.is_cuda
    bn_tools.assert_close(got, model(x))


def test_onnxruntime_backend_on_cuda():
    pytest.importorskip("onnxruntime")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).cuda().eval()
    x = torch.randn(2, 3, 8, 8, device="cuda")
    if not _ort_has_cuda():
        with pytest.raises(ConfigError, match="cannot run on cuda"):
            optimize_for_inference(model, x, backend="onnxruntime")
        return
    fast = optimize_for_inference(model, x, backend="onnxruntime", onnx_exporter="torchscript")
    assert isinstance(fast, OrtModule) and "CUDAExecutionProvider" in fast.providers
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-5)
