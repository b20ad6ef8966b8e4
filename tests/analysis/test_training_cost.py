"""Training cost from inspect (no step run) against a real training step of torchvision's networks.

References: ``torch.utils.flop_counter.FlopCounterMode`` over a real forward + backward (MACs = flops / 2),
and ``torch.autograd.graph.saved_tensors_hooks`` (every tensor autograd keeps for the backward, by storage,
parameters and buffers left out).

FlopCounterMode counts a grouped convolution's weight gradient as if it were not grouped
(``conv_backward_flop`` builds it from ``conv_flop_count`` on transposed shapes, which reads the weight's
``C_in / groups`` as the batch's ``C_in``), ``groups`` times the true count. The tests take that excess off the
reference, computed from the network's own conv modules, so a depthwise network is compared exactly too.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.analysis import inspect

NETWORKS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "vgg11_bn": lambda: torchvision.models.vgg11_bn(),
    "densenet121": lambda: torchvision.models.densenet121(),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(),
    "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "shufflenet_v2_x0_5": lambda: torchvision.models.shufflenet_v2_x0_5(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(stochastic_depth_prob=0.0),
    "regnet_y_400mf": lambda: torchvision.models.regnet_y_400mf(),
    "mnasnet0_5": lambda: torchvision.models.mnasnet0_5(),
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(stochastic_depth_prob=0.0),
}


def real_step(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(MACs of forward + backward per FlopCounterMode, minus its grouped-conv excess; bytes saved for backward)."""
    model.train()
    excess = 0

    def grouped(mod: nn.Conv2d, args: tuple, out: torch.Tensor) -> None:
        nonlocal excess
        if mod.groups > 1 and mod.weight.requires_grad:
            excess += (mod.groups - 1) * out.numel() * mod.weight[0].numel()

    handles = [m.register_forward_hook(grouped) for m in model.modules() if isinstance(m, nn.Conv2d)]
    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in state:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    try:
        with FlopCounterMode(display=False) as counter:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                y = model(x)
            y.sum().backward()
    finally:
        for h in handles:
            h.remove()
    return counter.get_total_flops() // 2 - excess, sum(saved.values())


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_training_macs_and_saved_activations_match_a_real_step(name):
    torch.manual_seed(0)
    model = NETWORKS[name]()
    x = torch.randn(2, 3, 64, 64)
    r = inspect(model, tuple(x.shape))
    macs, saved_bytes = real_step(model, x)
    assert r.train_macs == macs
    assert r.train_activation_bytes == saved_bytes
    assert sum(r.train_macs_by_kind.values()) == r.train_macs and r.train_macs > r.macs
    assert not r.train_unsupported


def test_the_first_layer_has_no_input_gradient_and_frozen_weights_none():
    # conv 1: weight gradient only (its input is the image); conv 2 frozen: input gradient only
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 1))
    model[2].weight.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    x = torch.randn(1, 3, 12, 12)
    r = inspect(model, tuple(x.shape))
    first, second, third = (row.macs for row in r.rows if row.kind == "conv")
    assert r.train_macs == (first + first) + (second + second) + (third + 2 * third)
    assert r.train_macs == real_step(model, x)[0]
