"""optimize_for_inference: same outputs as the original, the original untouched, decisions recorded."""

from __future__ import annotations

import shutil

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import ConfigError
from cnnlab.infer import InferenceInfo, optimize_for_inference


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("channels_last", ["auto", True, False])
def test_outputs_equal_and_original_untouched(name, channels_last, bn_tools):
    model = bn_tools.randomise(getattr(torchvision.models, name)(num_classes=10)).train()
    before = bn_tools.snapshot(model)
    x = torch.randn(2, 3, 48, 48)
    fast = optimize_for_inference(model, x, channels_last=channels_last, repeats=1)
    assert model.training and bn_tools.count(model) > 0  # mode and modules of the original kept
    bn_tools.assert_unchanged(model, before)
    assert not fast.training and bn_tools.count(fast) == 0
    info = fast.cnnlab_inference_info
    assert isinstance(info, InferenceInfo) and info.max_rel_error < 1e-4
    if channels_last != "auto":
        assert info.channels_last is channels_last
    else:
        assert set(info.layout_ms) == {"contiguous", "channels_last"}
        faster = min(info.layout_ms, key=info.layout_ms.get)
        assert info.channels_last == (faster == "channels_last")
    first_conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last) == info.channels_last
    with torch.no_grad():
        bn_tools.assert_close(fast(x), model.eval()(x))


def test_fold_can_be_switched_off(bn_tools):
    model = bn_tools.randomise(torchvision.models.resnet18(num_classes=10))
    fast = optimize_for_inference(model, torch.randn(1, 3, 32, 32), fold_bn=False, channels_last=False)
    assert bn_tools.count(fast) == bn_tools.count(model)
    assert fast.cnnlab_inference_info.fold is None


def test_non_4d_input_keeps_the_layout():
    model = nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4))
    info = optimize_for_inference(model, torch.randn(2, 3, 10)).cnnlab_inference_info
    assert info.channels_last is False and "4-D" in info.channels_last_reason


@pytest.mark.parametrize(
    "kwargs",
    [{"model": "resnet18"}, {"example_input": [1, 2, 3]}, {"channels_last": "yes"}, {"channels_last": 1}],
)
def test_bad_arguments_raise_config_error(kwargs):
    args = {"model": nn.Conv2d(3, 3, 1), "example_input": torch.randn(1, 3, 4, 4), **kwargs}
    with pytest.raises(ConfigError):
        optimize_for_inference(**args)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                    reason="torch.compile's inductor CPU backend needs a C++ compiler")
def test_compiled_model_matches(bn_tools):
    model = bn_tools.randomise(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ))
    x = torch.randn(2, 3, 16, 16)
    fast = optimize_for_inference(model, x, channels_last=False, compile=True)
    info = fast.cnnlab_inference_info
    assert info.compiled, info.compile_error
    with torch.no_grad():
        bn_tools.assert_close(fast(x), model.eval()(x))
