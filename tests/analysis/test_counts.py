"""MACs against published numbers, torch's FlopCounterMode and torchvision's models."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnlab
from cnnlab.analysis import inspect

torchvision = pytest.importorskip("torchvision")


def _fcm_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(shape, device="meta"))
    return counter.get_total_flops() // 2


# conv + linear MACs at 1x3x224x224, in G (ResNet paper Table 1 and torchvision's model docs
# "GFLOPS" column, which is MACs; VGG-16 15.47 G; MobileNet v1 paper Table 8: 569 M mult-adds;
# MobileNet v2 paper Table 4: 300 M; ResNet-50 v1 (stride in the first 1x1, Caffe model): 3.86 G)
ZOO_GMACS = {
    "resnet18": 1.814, "resnet50": 4.089, "resnet50_v1": 3.858, "resnet152": 11.514,
    "resnext50_32x4d": 4.230, "vgg16": 15.470, "mobilenet_v1": 0.569, "mobilenet_v2": 0.301,
}


@pytest.mark.parametrize("name", sorted(ZOO_GMACS))
def test_zoo_macs_match_published(name):
    with torch.device("meta"):
        model = cnnlab.create_model(name)
    r = inspect(model, (1, 3, 224, 224))
    conv_linear = r.macs_by_kind.get("conv", 0) + r.macs_by_kind.get("linear", 0)
    assert round(conv_linear / 1e9, 3) == pytest.approx(ZOO_GMACS[name], abs=0.0015)
    assert r.params == sum(p.numel() for p in model.parameters())


def _regnet_on_meta(monkeypatch):
    # torchvision's RegNet computes its widths with torch ops, which cannot run under a meta default device
    from torchvision.models.regnet import BlockParams

    original = BlockParams.from_init_params.__func__

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return original(cls, *args, **kwargs)

    monkeypatch.setattr(BlockParams, "from_init_params", classmethod(on_cpu))


@pytest.mark.slow
def test_every_torchvision_classifier_matches_flop_counter(monkeypatch):
    """conv + linear + matmul + attention MACs == FlopCounterMode total / 2 (it counts exactly
    aten convolution, mm/addmm/bmm/baddbmm and attention), on every torchvision classifier."""
    _regnet_on_meta(monkeypatch)
    models = torchvision.models
    names = models.list_models(module=models)
    assert len(names) >= 70
    mismatches = {}
    for name in names:
        with torch.device("meta"):
            model = models.get_model(name).eval()
        r = inspect(model, (1, 3, 224, 224))
        reference = _fcm_macs(model, (1, 3, 224, 224))
        if r.macs != reference:
            mismatches[name] = (r.macs, reference)
        assert r.params == sum(p.numel() for p in model.parameters())
    assert not mismatches


def test_conv_transpose_counted_from_input_positions():
    # each of the 32*32 input pixels meets the whole 16x16x4x4 kernel once: 32*32*16*16*16 = 4,194,304
    layer = nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1, bias=False)
    r = inspect(layer, (1, 16, 32, 32))
    assert r.macs == 4_194_304
    assert r.rows[0].output_shape == (1, 16, 64, 64)
    assert r.macs == _fcm_macs(layer.to("meta"), (1, 16, 32, 32))


def test_grouped_and_depthwise_convs_divide_by_groups():
    for groups in (1, 4, 32):
        layer = nn.Conv2d(32, 64, 3, padding=1, groups=groups, bias=False)
        r = inspect(layer, (2, 32, 10, 10))
        assert r.macs == 2 * 64 * 10 * 10 * (32 // groups) * 9


def test_matmul_einsum_and_attention_match_flop_counter():
    class Mixer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(32, 4, batch_first=True)
            self.proj = nn.Linear(32, 32)

        def forward(self, x):
            y, _ = self.attn(x, x, x, need_weights=False)
            z = torch.einsum("bld,bmd->blm", y, x)
            w = torch.matmul(z, x)
            q = w.view(2, 10, 4, 8).transpose(1, 2)
            a = nn.functional.scaled_dot_product_attention(q, q, q)
            return self.proj(a.transpose(1, 2).reshape(2, 10, 32)) + torch.bmm(z, w)

    model = Mixer().eval()
    r = inspect(model, (2, 10, 32))
    assert r.traced_with == "fx"
    assert r.macs == _fcm_macs(model.to("meta"), (2, 10, 32))
    assert {"linear", "attention", "matmul"} <= set(r.macs_by_kind)


def test_flops_are_twice_macs_plus_elementwise_ops():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
    r = inspect(model, (1, 3, 10, 10))
    conv_macs = 8 * 8 * 8 * 3 * 9
    assert r.macs == conv_macs
    # stated conventions: batch norm 2 per element, activation 1, max pool k*k per output element
    assert r.ops_by_kind == {"conv": 2 * conv_macs, "norm": 2 * 512, "act": 512, "pool": 4 * 128}
    assert r.flops == sum(r.ops_by_kind.values())


def test_unsupported_ops_are_listed_not_zeroed():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, dim=1) + torch.linalg.vector_norm(x, dim=1, keepdim=True)

    r = inspect(Odd(), (1, 4, 8, 8))
    assert any("cumsum" in k for k in r.unsupported)
    assert any("vector_norm" in k for k in r.unsupported)


def test_every_cnnlab_model_matches_flop_counter():
    """inspect's MACs == FlopCounterMode / 2 on each registered cnnlab network (built on meta)."""
    mismatches = {}
    for name in cnnlab.list_models():
        with torch.device("meta"):
            model = cnnlab.create_model(name).eval()
        first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        shape = (1, first_conv.in_channels if first_conv is not None else 3, 224, 224)
        r = inspect(model, shape)
        reference = _fcm_macs(model, shape)
        if r.macs != reference:
            mismatches[name] = (r.macs, reference)
    assert not mismatches
