"""torchvision's (and timm's) randomly initialised weights loaded through ``checkpoint=`` give the same
outputs as the peer model, in eval mode, to 1e-5."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnlab

# Built normally on the CPU (weights copied into an initialised model): one per key layout.
PAIRS = [
    ("resnet18", {}),
    ("googlenet", {"aux_logits": False, "init_weights": True}),
    ("mobilenet_v2", {}),
]


def randomise_bn(model: nn.Module) -> None:
    """Non-trivial BN statistics, so a wrongly mapped BN shows in the outputs."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.mark.parametrize("name,kwargs", PAIRS, ids=[p[0] for p in PAIRS])
@torch.no_grad()
def test_outputs_match_torchvision(name: str, kwargs: dict) -> None:
    theirs = getattr(torchvision.models, name)(**kwargs).eval()
    randomise_bn(theirs)
    ours = cnnlab.create_model(name, checkpoint=theirs.state_dict()).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def cheap_random_(model: nn.Module, seed: int = 2) -> nn.Module:
    """Materialise a meta-device model with random values. Big tensors are tiled from a 1M-value random
    pool at a random offset each (random-filling 100M-parameter nets takes many seconds on a CI core)."""
    model.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    pool = torch.randn(1_048_573 * 2, generator=g) * 0.05
    half = pool.numel() // 2
    with torch.no_grad():
        for name, t in (*model.named_parameters(), *model.named_buffers()):
            if name.endswith("num_batches_tracked"):
                t.zero_()
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("bn.weight", "bn1.weight", "bn2.weight", "bn3.weight")) or (
                    t.dim() == 1 and name.endswith(".weight")):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                flat = t.view(-1)
                for start in range(0, flat.numel(), half):
                    offset = int(torch.randint(half, (1,), generator=g))
                    chunk = flat[start:start + half]
                    chunk.copy_(pool[offset:offset + chunk.numel()])
    return model


# Every network torchvision also has. Both are built on the meta device; torchvision's gets random
# values, cnnlab's takes them through checkpoint= (key conversion, strict validation, no copy).
TORCHVISION_ALL = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
    "wide_resnet50_2", "wide_resnet101_2", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
    "vgg19", "vgg19_bn", "googlenet", "mobilenet_v2",
]


@pytest.mark.parametrize("name", TORCHVISION_ALL)
@torch.no_grad()
def test_every_torchvision_net_matches(name: str) -> None:
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)(**kwargs)
    cheap_random_(theirs).eval()
    with torch.device("meta"):
        ours = cnnlab.create_model(name, checkpoint=theirs.state_dict())
    ours.eval()
    x = torch.randn(1, 3, 32, 32)
    expected = theirs(x)
    assert expected.abs().max() > 1e-3  # the comparison is not between two zero vectors
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_googlenet_aux_heads_load_and_train_outputs() -> None:
    theirs = torchvision.models.googlenet(aux_logits=True, init_weights=True)
    ours = cnnlab.create_model("googlenet", aux_logits=True, checkpoint=theirs.state_dict())
    x = torch.randn(2, 3, 64, 64)
    theirs.train()
    ours.train()
    for m in (*theirs.modules(), *ours.modules()):  # dropout off, BN in batch mode: deterministic
        if isinstance(m, nn.Dropout):
            m.eval()
    a, b = ours(x), theirs(x)
    for mine, ref in zip(a, b, strict=True):
        torch.testing.assert_close(mine, ref, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_mobilenet_v1_matches_timm() -> None:
    timm = pytest.importorskip("timm")
    theirs = timm.create_model("mobilenetv1_100").eval()
    randomise_bn(theirs)
    ours = cnnlab.create_model("mobilenet_v1", checkpoint=theirs.state_dict()).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_checkpoint_file_from_disk(tmp_path) -> None:
    theirs = torchvision.models.resnet18(num_classes=10).eval()
    randomise_bn(theirs)
    path = tmp_path / "resnet18.pth"
    torch.save(theirs.state_dict(), path)
    ours = cnnlab.create_model("resnet18", num_classes=10, checkpoint=str(path)).eval()
    x = torch.randn(1, 3, 48, 48)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    # cnnlab's own keys round-trip too, also wrapped as {"state_dict": ...}
    again = cnnlab.create_model("resnet18", num_classes=10, checkpoint={"state_dict": ours.state_dict()}).eval()
    torch.testing.assert_close(again(x), ours(x))


@pytest.mark.parametrize("alpha", [0.5, 1.4])
def test_mobilenet_v2_width_multiplier_matches_torchvision(alpha: float) -> None:
    """Channels rounded to multiples of 8 exactly as torchvision's ``_make_divisible``."""
    with torch.device("meta"):
        ours = cnnlab.create_model("mobilenet_v2", width_multiplier=alpha)
        theirs = torchvision.models.mobilenet_v2(width_mult=alpha)
    assert ours.state_dict().keys() != theirs.state_dict().keys()
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


@torch.no_grad()
def test_mobilenet_v1_any_resolution() -> None:
    model = cnnlab.create_model("mobilenet_v1", width_multiplier=0.25, num_classes=5).eval()
    for size in (33, 96, 128):
        assert model(torch.randn(1, 3, size, size)).shape == (1, 5)
