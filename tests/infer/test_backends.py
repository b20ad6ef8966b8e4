"""optimize_for_inference's backends: the onnxruntime module equals eager PyTorch, auto keeps the one
the clock measured fastest, and bad input is one ConfigError naming the value."""

from __future__ import annotations

import copy
import logging
import pickle
import sys

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import ConfigError
from cnnlab.infer import BackendChoice, OrtModule, optimize_for_inference, pick_fastest
from cnnlab.infer import backends as backends_module

pytest.importorskip("onnxruntime")


class _Branchy(nn.Module):
    """A residual depthwise block, a concatenation and two outputs: not a plain chain."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.BatchNorm2d(8), nn.Hardswish())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))

    def forward(self, x):
        y = self.stem(x)
        features = torch.cat([y, y + self.dw(y)], dim=1)
        return self.head(features), features.mean(dim=(2, 3))


# torchvision builds them; cnnlab's exporter and onnxruntime (neither of them torch eager) must agree with it
NETS = {
    "resnet18": lambda: torchvision.models.resnet18(num_classes=7),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(num_classes=7),
    "branchy": _Branchy,
}


@pytest.mark.parametrize("name", list(NETS))
def test_ort_module_equals_eager(name, bn_tools):
    model = bn_tools.randomise(NETS[name]()).train()
    before = bn_tools.snapshot(model)
    x = torch.randn(2, 3, 32, 32)
    fast = optimize_for_inference(model, x, backend="onnxruntime", onnx_exporter="torchscript")
    assert isinstance(fast, OrtModule) and model.training  # the original keeps its mode and weights
    bn_tools.assert_unchanged(model, before)
    info = fast.cnnlab_inference_info
    assert info.backend == "onnxruntime" and info.backend_reason == "requested" and info.max_rel_error < 1e-4
    assert info.onnx.exporter == "torchscript" and fast.built_for == (2, 3, 32, 32)
    assert fast.input_shape == (None, 3, 32, 32) and fast.threads == torch.get_num_threads()
    model.eval()
    for batch in (2, 5):  # the batch axis is free
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            got, want = fast(x), model(x)
        for g, w in zip(*(out if isinstance(out, tuple) else (out,) for out in (got, want)), strict=True):
            bn_tools.assert_close(g, w)


def test_ort_module_survives_deepcopy_and_pickle():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten()).eval()
    x = torch.randn(1, 3, 6, 6)
    fast = optimize_for_inference(model, x, backend="onnxruntime", onnx_exporter="torchscript")
    for clone in (copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):
        assert clone.built_for == fast.built_for
        torch.testing.assert_close(clone(x), fast(x))


def test_ort_sessions_do_not_busy_wait():
    # a spinning session took the cores from the next call (docs in cnnlab.infer.ort_module); the option is
    # onnxruntime's documented session config key
    from cnnlab.infer.ort_module import session_options

    options = session_options(3)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (3, 1)


def _fake_clock(ms_by_name):
    """A clock that reports fixed times, after calling each candidate once (as the real one does)."""
    calls = []

    def clock(fns, repeats, warmup):
        calls.append((sorted(fns), repeats, warmup))
        for fn in fns.values():
            fn()
        return {name: ms_by_name[name] / 1e3 for name in fns}

    clock.calls = calls
    return clock


@pytest.mark.parametrize(("ms", "fastest"), [({"torch": 5.0, "onnxruntime": 2.0}, "onnxruntime"),
                                             ({"torch": 1.0, "onnxruntime": 9.0}, "torch"),
                                             ({"torch": 3.0, "onnxruntime": 3.0}, "torch")])  # tie: first
def test_pick_fastest_keeps_the_measured_fastest(ms, fastest):
    clock = _fake_clock(ms)
    choice = pick_fastest({"torch": nn.Identity(), "onnxruntime": nn.Identity()}, torch.zeros(1), repeats=4,
                          clock=clock)
    assert choice.backend == fastest and choice.ms == pytest.approx(ms)
    assert clock.calls == [(["onnxruntime", "torch"], 4, 1)]
    assert f"auto: {fastest}" in choice.reason and "ms" in choice.reason


@pytest.mark.parametrize("faster", ["torch", "onnxruntime"])
def test_auto_returns_what_the_clock_measured_fastest(monkeypatch, faster, bn_tools, caplog):
    slower = {"torch": "onnxruntime", "onnxruntime": "torch"}[faster]
    clock = _fake_clock({faster: 1.0, slower: 4.0})
    monkeypatch.setattr(backends_module, "interleaved_median_seconds", clock)
    model = bn_tools.randomise(NETS["resnet18"]()).eval()
    x = torch.randn(1, 3, 32, 32)
    with caplog.at_level(logging.INFO, logger="cnnlab.infer.optimize"):
        fast = optimize_for_inference(model, x, channels_last=False, onnx_exporter="torchscript")
    info = fast.cnnlab_inference_info
    assert info.backend == faster and isinstance(fast, OrtModule) == (faster == "onnxruntime")
    assert info.backend_ms == pytest.approx({faster: 1.0, slower: 4.0})
    assert f"auto: {faster}, fastest" in info.summary()
    assert f"{faster} backend for input 1x3x32x32" in caplog.text
    with torch.no_grad():
        bn_tools.assert_close(fast(x), model(x))


def test_auto_really_timed_both(bn_tools):
    """No fake clock: both backends timed on the example, the one returned is the lower median."""
    model = bn_tools.randomise(_Branchy()).eval()
    fast = optimize_for_inference(model, torch.randn(2, 3, 16, 16), repeats=2, onnx_exporter="torchscript")
    info = fast.cnnlab_inference_info
    assert set(info.backend_ms) == {"torch", "onnxruntime"} and all(ms > 0 for ms in info.backend_ms.values())
    assert info.backend == min(info.backend_ms, key=info.backend_ms.get)


def test_auto_without_onnxruntime_keeps_torch_and_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    fast = optimize_for_inference(model, torch.randn(1, 3, 8, 8), channels_last=False)
    info = fast.cnnlab_inference_info
    assert info.backend == "torch" and info.backend_ms == {}
    assert "onnxruntime skipped" in info.backend_reason and "cnnlab[onnx]" in info.backend_reason


def test_onnxruntime_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"needs onnxruntime.*pip install 'cnnlab\[onnx\]'"):
        optimize_for_inference(nn.Conv2d(3, 3, 1), torch.randn(1, 3, 4, 4), backend="onnxruntime")


@pytest.mark.parametrize(("kwargs", "named"), [({"backend": "tensorrt"}, "'tensorrt'"), ({"backend": None}, "None"),
                                               ({"onnx_exporter": "tf"}, "'tf'"), ({"repeats": 0}, "repeats")])
def test_bad_arguments_name_the_value(kwargs, named):
    with pytest.raises(ConfigError, match=named):
        optimize_for_inference(nn.Conv2d(3, 3, 1), torch.randn(1, 3, 4, 4), **kwargs)


def test_ort_module_names_the_shape_it_was_built_for():
    fast = optimize_for_inference(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), torch.randn(2, 3, 8, 8),
                                  backend="onnxruntime", onnx_exporter="torchscript")
    for bad in (torch.randn(2, 3, 9, 8), torch.randn(2, 1, 8, 8), torch.randn(3, 8, 8)):
        with pytest.raises(ConfigError, match=r"built for 2x3x8x8 \(it takes Nx3x8x8"):
            fast(bad)
    with pytest.raises(ConfigError, match="dtype torch.float64"):
        fast(torch.randn(2, 3, 8, 8, dtype=torch.float64))
    assert fast(torch.randn(4, 3, 8, 8)).shape == (4, 4 * 6 * 6)


def test_a_model_no_exporter_captures_is_skipped_by_auto_and_refused_by_onnxruntime():
    class Svd(nn.Module):
        def forward(self, x):
            return torch.linalg.svd(x.flatten(2)).S  # no ONNX operator for an SVD

    x = torch.randn(1, 3, 4, 4)
    with pytest.warns(UserWarning), pytest.raises(ConfigError, match="could not be exported"):
        optimize_for_inference(Svd(), x, backend="onnxruntime")
    with pytest.warns(UserWarning):
        info = optimize_for_inference(Svd(), x, channels_last=False, fold_bn=False).cnnlab_inference_info
    assert info.backend == "torch" and "onnxruntime skipped" in info.backend_reason


def test_backend_choice_reason_lists_the_skipped():
    choice = BackendChoice("torch", skipped={"onnxruntime": "not installed"})
    assert choice.reason == "torch (the only backend built); onnxruntime skipped: not installed"
