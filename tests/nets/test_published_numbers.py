"""Parameter counts and multiply-accumulates of the zoo against references nobody here wrote.

Published numbers (224x224 input, 1000 classes):

| model            | params       | GMACs | source                                                        |
|------------------|--------------|-------|---------------------------------------------------------------|
| resnet18         | 11,689,512   | 1.814 | torchvision 0.29 model docs ("GFLOPS" column counts MACs)     |
| resnet34         | 21,797,672   |       | torchvision docs                                              |
| resnet50 (v1.5)  | 25,557,032   | 4.089 | torchvision docs                                              |
| resnet50 (v1)    |              | 3.858 | He et al. 2016 Table 1 "3.8 x 10^9 FLOPs" (multiply-adds)     |
| resnet101        | 44,549,160   |       | torchvision docs                                              |
| resnet152        | 60,192,808   |       | torchvision docs                                              |
| resnext50_32x4d  | 25,028,904   | 4.230 | torchvision docs; Xie et al. 2017 Table 1: 25.0M, 4.2e9       |
| vgg16            | 138,357,544  | 15.470| torchvision docs                                              |
| vgg16_bn         | 138,365,992  |       | torchvision docs                                              |
| googlenet        | 6,624,904    |       | torchvision docs                                              |
| mobilenet_v2     | 3,504,872    | 0.301 | torchvision docs (0.30); Sandler et al. 2018 Table 4: 300M    |
| mobilenet_v1     | 4,231,976    | 0.569 | timm mobilenetv1_100; Howard et al. 2017 Table 8: 569M, 4.2M  |

The counts are also asserted against the peer models built here (torchvision / timm on the meta device).
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnlab

PUBLISHED_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "googlenet": 6_624_904,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v1": 4_231_976,
}

# GMACs at 224x224, printed to the digits of the sources above.
PUBLISHED_GMACS = {
    "resnet50": (4.089, 3),
    "resnet50_v1": (3.858, 3),
    "resnet18": (1.814, 3),
    "vgg16": (15.470, 3),
    "mobilenet_v1": (0.569, 3),
    "mobilenet_v2": (0.301, 3),
    "resnext50_32x4d": (4.230, 3),
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def peer(name: str) -> nn.Module:
    if name == "mobilenet_v1":
        timm = pytest.importorskip("timm")
        return timm.create_model("mobilenetv1_100")
    if name == "googlenet":  # torchvision's published count is without the auxiliary heads
        return torchvision.models.googlenet(aux_logits=False, init_weights=False)
    return getattr(torchvision.models, name)()


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_param_count_is_exact(name: str) -> None:
    with torch.device("meta"):
        ours = n_params(cnnlab.create_model(name))
        theirs = n_params(peer(name))
    assert ours == theirs == PUBLISHED_PARAMS[name]


def count_macs(model: nn.Module, size: int = 224) -> int:
    """Multiply-accumulates of every Conv2d and Linear, from forward hooks (batch 1)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output[0].numel() * (module.in_channels // module.groups) * kh * kw
        else:
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model(torch.empty(1, 3, size, size))
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_macs_match_published(name: str) -> None:
    expected, digits = PUBLISHED_GMACS[name]
    with torch.device("meta"):
        model = cnnlab.create_model(name).eval()
        macs = count_macs(model)
    assert round(macs / 1e9, digits) == pytest.approx(expected)


def test_macs_agree_with_torchvision_hooks() -> None:
    """The same hook count on torchvision's resnet50: both builds do the same arithmetic."""
    with torch.device("meta"):
        ours = count_macs(cnnlab.create_model("resnet50").eval())
        theirs = count_macs(torchvision.models.resnet50().eval())
    assert ours == theirs


def test_v1_stride_on_1x1_costs_less_than_v15() -> None:
    with torch.device("meta"):
        v1 = count_macs(cnnlab.create_model("resnet50_v1").eval())
        v15 = count_macs(cnnlab.create_model("resnet50").eval())
    assert v1 < v15
    with torch.device("meta"):
        assert n_params(cnnlab.create_model("resnet50_v1")) == PUBLISHED_PARAMS["resnet50"]


# Howard et al. 2017, Table 6 (224x224): width multiplier -> (million mult-adds, million params)
MOBILENET_V1_TABLE6 = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}


@pytest.mark.parametrize("alpha", sorted(MOBILENET_V1_TABLE6))
def test_mobilenet_v1_width_multiplier_matches_paper(alpha: float) -> None:

    mmacs, mparams = MOBILENET_V1_TABLE6[alpha]
    with torch.device("meta"):
        model = cnnlab.create_model("mobilenet_v1", width_multiplier=alpha).eval()
        assert round(count_macs(model) / 1e6) == pytest.approx(mmacs, abs=1)
    assert round(n_params(model) / 1e6, 1) == pytest.approx(mparams)
