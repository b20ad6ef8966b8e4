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
    fast = optimize_for_inference(model, x, backend="torch", channels_last=channels_last, repeats=1)
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
    fast = optimize_for_inference(model, torch.randn(1, 3, 32, 32), backend="torch", fold_bn=False,
                                  channels_last=False)
    assert bn_tools.count(fast) == bn_tools.count(model)
    assert fast.cnnlab_inference_info.fold is None


def test_non_4d_input_keeps_the_layout():
    model = nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4))
    info = optimize_for_inference(model, torch.randn(2, 3, 10), backend="torch").cnnlab_inference_info
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
    fast = optimize_for_inference(model, x, backend="torch", channels_last=False, compile=True)
    info = fast.cnnlab_inference_info
    assert info.compiled, info.compile_error
    with torch.no_grad():
        bn_tools.assert_close(fast(x), model.eval()(x))


def test_input_sizes_torch_cannot_address_are_refused():
    from cnnlab.infer import check_input_size, parse_input_size

    # 3 * 1e9 * 1e9 float32 elements: 1.2e19 bytes, past torch's signed 64-bit storage size
    with pytest.raises(ConfigError, match=r"2\*\*63"):
        parse_input_size("1x3x1000000000x1000000000")
    with pytest.raises(ConfigError, match=r"2\*\*63"):
        check_input_size((1, 3, 10**9, 10**9))
    assert parse_input_size("1x3x4096x4096") == (1, 3, 4096, 4096)


def test_check_input_for_names_the_layout_and_the_channels():
    from cnnlab.infer import check_input_for, example_input_size

    net2d = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten())
    net2d.in_chans = 1
    with pytest.raises(ConfigError, match=r"needs N x C x H x W, 4 numbers, e\.g\. 1x1x224x224"):
        check_input_for(net2d, (1, 1, 32))
    with pytest.raises(ConfigError, match=r"has 3 channel\(s\), but net takes 1"):
        check_input_for(net2d, (1, 3, 32, 32), name="net")
    assert check_input_for(net2d, (2, 1, 32, 32)) == (2, 1, 32, 32)
    net1d = nn.Sequential(nn.Conv1d(2, 4, 3))
    with pytest.raises(ConfigError, match=r"N x C x L, 3 numbers"):
        check_input_for(net1d, (1, 2, 8, 8))
    assert example_input_size(net1d, 16) == (1, 3, 16) and example_input_size(net2d) == (1, 1, 224, 224)
    mixed = nn.Sequential(nn.Conv1d(2, 4, 3), nn.Conv2d(4, 4, 3))  # no single layout: nothing to check
    assert check_input_for(mixed, (1, 2, 8)) == (1, 2, 8)


def test_digits_int_cannot_read_are_a_config_error():
    from cnnlab.infer import parse_input_size

    # '²'.isdigit() is True but int('²') raises: the text must be refused, not crash
    with pytest.raises(ConfigError, match="1x3x224x224"):
        parse_input_size("1x3x²x2")
    assert parse_input_size("１x3x8x8") == (1, 3, 8, 8)  # full-width digits are digits int() reads
