"""ConvNormAct: structure, "same" padding against torch, and early rejection of bad hyper-parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab import ConfigError
from cnnlab.units import ConvNormAct


def test_children_and_bias():
    block = ConvNormAct(8, 16, 3, stride=2)
    assert [name for name, _ in block.named_children()] == ["conv", "bn", "act"]
    assert isinstance(block.bn, nn.BatchNorm2d) and isinstance(block.act, nn.ReLU)
    assert block.conv.bias is None  # the norm's shift replaces it
    bare = ConvNormAct(8, 16, 1, norm_layer=None, act_layer=None)
    assert [name for name, _ in bare.named_children()] == ["conv"] and bare.conv.bias is not None


@pytest.mark.parametrize(("k", "d"), [(1, 1), (3, 1), (3, 2), (5, 3), (7, 1)])
def test_default_padding_equals_torch_same(k, d):
    block = ConvNormAct(3, 4, k, dilation=d, groups=1, norm_layer=None, act_layer=None).eval()
    reference = nn.Conv2d(3, 4, k, padding="same", dilation=d)
    reference.load_state_dict(block.conv.state_dict())
    x = torch.randn(2, 3, 11, 9)
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(x))


def test_forward_equals_the_torch_layers_in_sequence():
    block = ConvNormAct(4, 8, 3, stride=2, groups=2, act_layer=nn.SiLU).eval()
    nn.init.normal_(block.bn.running_mean)
    x = torch.randn(2, 4, 10, 10)
    with torch.no_grad():
        expected = nn.functional.silu(block.bn(nn.functional.conv2d(x, block.conv.weight, stride=2, padding=1, groups=2)))
        torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        (dict(in_channels=6, out_channels=8, groups=4), "in_channels=6 is not divisible by groups=4"),
        (dict(in_channels=8, out_channels=6, groups=4), "out_channels=6 is not divisible by groups=4"),
        (dict(in_channels=8, out_channels=8, kernel_size=0), "kernel_size"),
        (dict(in_channels=8, out_channels=8, stride=0), "stride"),
        (dict(in_channels=8, out_channels=8, dilation=-1), "dilation"),
        (dict(in_channels=8, out_channels=8, padding=-1), "padding"),
        (dict(in_channels=8, out_channels=8, padding_mode="mirror"), "padding_mode"),
        (dict(in_channels=8, out_channels=8, padding="same", stride=2), "padding='same' needs stride 1"),
        (dict(in_channels=0, out_channels=8), "in_channels"),
    ],
)
def test_bad_hyper_parameters_name_value_and_unit(kwargs, named):
    with pytest.raises(ConfigError, match=named) as info:
        ConvNormAct(**kwargs)
    assert "ConvNormAct" in str(info.value)
