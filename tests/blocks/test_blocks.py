"""Blocks against torch's own layers and the papers' statements: shapes, residual rules, equivalences."""

from __future__ import annotations

import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st
from torch import nn

from cnnlab import ConfigError
from cnnlab.blocks import (
    BasicBlock,
    Bottleneck,
    DepthwiseSeparableBlock,
    InceptionBlock,
    InvertedResidual,
    ResNeXtBlock,
    ShuffleUnit,
    VGGBlock,
)


def randomise_bn(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)


@pytest.mark.parametrize("form", ["a", "b"])
@pytest.mark.parametrize("train", [False, True])
@torch.no_grad()
def test_resnext_three_forms_are_equivalent(form: str, train: bool) -> None:
    """Xie et al. 2017, Fig. 3: (a) split-transform-merge = (b) early concat = (c) grouped conv."""
    c = ResNeXtBlock(32, 64, stride=2, cardinality=8, bottleneck_width=4, form="c")
    randomise_bn(c)
    other = ResNeXtBlock(32, 64, stride=2, cardinality=8, bottleneck_width=4, form=form)
    other.load_form_c_state(c)
    c.train(train)
    other.train(train)
    x = torch.randn(4, 32, 9, 9)
    torch.testing.assert_close(other(x), c(x), atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in other.parameters()) == sum(p.numel() for p in c.parameters())


@torch.no_grad()
def test_resnext_form_c_is_the_grouped_bottleneck() -> None:
    """Form (c) is torchvision's ResNeXt block: same tensors as Bottleneck(groups=C)."""
    block = ResNeXtBlock(256, 256, 1, cardinality=32, bottleneck_width=4)
    bottleneck = Bottleneck(256, 256, 1, mid_channels=128, groups=32)
    assert [p.shape for p in block.parameters()] == [p.shape for p in bottleneck.parameters()]


def test_bottleneck_stride_placement() -> None:
    v1 = Bottleneck(64, 256, 2, stride_on="1x1")
    v15 = Bottleneck(64, 256, 2, stride_on="3x3")
    assert v1.conv1.conv.stride == (2, 2) and v1.conv2.conv.stride == (1, 1)
    assert v15.conv1.conv.stride == (1, 1) and v15.conv2.conv.stride == (2, 2)
    x = torch.randn(1, 64, 8, 8)
    assert v1(x).shape == v15(x).shape == (1, 256, 4, 4)


def test_basic_block_identity_and_projection() -> None:
    assert isinstance(BasicBlock(64, 64, 1).shortcut, nn.Identity)
    proj = BasicBlock(64, 128, 2).shortcut
    assert proj.conv.kernel_size == (1, 1) and proj.conv.stride == (2, 2)


@torch.no_grad()
def test_inverted_residual_rules() -> None:
    """Residual only when stride 1 and in == out; the projection is linear (no activation)."""
    assert InvertedResidual(24, 24, 1, 6).use_residual
    assert not InvertedResidual(24, 24, 2, 6).use_residual
    assert not InvertedResidual(16, 24, 1, 6).use_residual
    block = InvertedResidual(16, 24, 1, 6)
    assert not hasattr(block.project, "act") and block.expand.conv.out_channels == 96
    assert not hasattr(InvertedResidual(32, 16, 1, 1), "expand")
    # the block is exactly x + project(dw(expand(x))) for the residual case
    res = InvertedResidual(8, 8, 1, 4).eval()
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(res(x), x + res.project(res.dw(res.expand(x))))


def test_depthwise_separable_cost() -> None:
    """Howard et al. 2017 Eq. (5): k²·M + M·N weights instead of k²·M·N."""
    block = DepthwiseSeparableBlock(32, 64, 1)
    assert block.dw.conv.weight.numel() + block.pw.conv.weight.numel() == 9 * 32 + 32 * 64
    assert block.dw.conv.groups == 32


@torch.no_grad()
def test_inception_branches_and_naive_variant() -> None:
    """GoogLeNet Table 1 row 3a: 64 + 128 + 32 + 32 = 256 channels; the naive module (Fig. 2a) keeps
    the input channels in its pool branch and has far more weights."""
    kw = dict(ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32, pool_proj=32)
    block = InceptionBlock(192, 256, **kw)
    x = torch.randn(1, 192, 7, 7)
    assert block(x).shape == (1, 256, 7, 7)
    assert block.branch3[1].conv.kernel_size == (5, 5)
    naive = InceptionBlock(192, None, naive=True, **kw)
    assert naive(x).shape == (1, 64 + 128 + 32 + 192, 7, 7)
    assert sum(p.numel() for p in naive.parameters()) > 2 * sum(p.numel() for p in block.parameters())
    with pytest.raises(ConfigError, match="out_channels=100"):
        InceptionBlock(192, 100, **kw)


@torch.no_grad()
def test_shuffle_unit_channel_shuffle() -> None:
    unit = ShuffleUnit(24, 240, 2, groups=3, first_grouped=False).eval()
    assert unit(torch.randn(1, 24, 8, 8)).shape == (1, 240, 4, 4)
    assert unit.conv2.conv.out_channels == 240 - 24 and unit.conv2.conv.groups == 3
    x = torch.arange(6.0).view(1, 6, 1, 1)
    # ShuffleNet Fig. 1(c): with g=3 groups of 2 channels, channel order becomes one from each group
    assert ShuffleUnit(12, 12, 1, groups=3).shuffle(x).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_vgg_block_matches_table() -> None:
    block = VGGBlock(64, 128, 2, num_convs=2)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (64, 128, (3, 3), (1, 1)), (128, 128, (3, 3), (1, 1))]
    assert block(torch.randn(1, 64, 8, 8)).shape == (1, 128, 4, 4)


# ---- random knobs: a working block or a ConfigError, never another exception ----

def knob(good, bad):
    """Mostly valid values, a bad one about one time in eight."""
    return st.integers(0, 7).flatmap(lambda roll: bad if roll == 7 else good)


small = knob(st.integers(1, 12), st.sampled_from([-1, 0]))


@st.composite
def block_case(draw):
    kind = draw(st.sampled_from(["vgg", "inception", "basic", "bottleneck", "resnext", "ds", "ir", "shuffle"]))
    cin, cout = draw(small), draw(small)
    stride = draw(knob(st.sampled_from([1, 2]), st.sampled_from([0, 3])))
    kw: dict = {}
    if kind == "vgg":
        kw["num_convs"] = draw(knob(st.integers(1, 3), st.just(0)))
        kw["norm_layer"] = draw(st.sampled_from([None, nn.BatchNorm2d]))
    elif kind == "inception":
        for k in ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"):
            kw[k] = draw(knob(st.integers(1, 6), st.just(0)))
        kw["kernel_5x5"] = draw(knob(st.sampled_from([3, 5]), st.just(4)))
        kw["naive"] = draw(st.booleans())
        stride = draw(knob(st.just(1), st.just(2)))
        cout = draw(knob(st.none(), small))
    elif kind == "bottleneck":
        kw["mid_channels"] = draw(st.one_of(st.none(), small))
        kw["groups"] = draw(knob(st.sampled_from([1, 2]), st.integers(0, 4)))
        kw["stride_on"] = draw(knob(st.sampled_from(["3x3", "1x1"]), st.just("2x2")))
    elif kind == "resnext":
        kw["cardinality"] = draw(knob(st.integers(1, 4), st.just(0)))
        kw["bottleneck_width"] = draw(knob(st.integers(1, 4), st.just(0)))
        kw["form"] = draw(knob(st.sampled_from(["a", "b", "c"]), st.just("d")))
    elif kind == "ir":
        kw["expand_ratio"] = draw(knob(st.sampled_from([1, 2, 3.5, 6]), st.sampled_from([0, 0.5])))
    elif kind == "shuffle":
        kw["groups"] = draw(st.integers(1, 4))
        kw["first_grouped"] = draw(st.booleans())
        if draw(st.booleans()):  # shapes the unit accepts: out = 4·g·k, in = out (stride 1) or less
            g = kw["groups"]
            cout = 4 * g * draw(st.integers(1, 3))
            cin, stride = (cout, 1) if draw(st.booleans()) else (g * draw(st.integers(1, 2)), 2)
    size = draw(st.integers(1, 9))
    return kind, cin, cout, stride, kw, size


BLOCKS = {"vgg": VGGBlock, "inception": InceptionBlock, "basic": BasicBlock, "bottleneck": Bottleneck,
          "resnext": ResNeXtBlock, "ds": DepthwiseSeparableBlock, "ir": InvertedResidual, "shuffle": ShuffleUnit}


@given(block_case())
@torch.no_grad()
def test_blocks_with_random_knobs(case) -> None:
    kind, cin, cout, stride, kw, size = case
    try:
        block = BLOCKS[kind](cin, cout, stride, **kw)
    except ConfigError as exc:
        event("rejected at build")
        names = ["in_channels", "out_channels", "stride", *kw, "channels", "hidden"]
        assert any(n in str(exc) for n in names), str(exc)
        return
    block.eval()
    try:
        out = block(torch.randn(2, cin, size, size))
    except ConfigError as exc:
        event("input too small")
        assert "too small" in str(exc)
        return
    expected = getattr(block, "out_channels", cout) if kind == "inception" else cout
    assert out.shape[:2] == (2, expected)
    assert out.shape[-1] == (size + stride - 1) // stride if kind != "vgg" else size // stride
