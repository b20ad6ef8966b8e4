"""Shared pieces of the inference tests: BatchNorm statistics far from the identity, and output checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def randomise_batchnorm_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial running stats and affine params, so folding changes the weights."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm) and module.running_mean is not None:
                n = module.num_features
                module.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                if module.weight is not None:
                    module.weight.copy_(0.5 + torch.rand(n, generator=gen))
                    module.bias.copy_(0.2 * torch.randn(n, generator=gen))
    return model


def count_batchnorm(model: nn.Module) -> int:
    return sum(isinstance(m, _BatchNorm) for m in model.modules())


def assert_outputs_close(output: torch.Tensor, reference: torch.Tensor, rtol: float = 1e-4) -> None:
    """Equal to ``rtol`` relative to the largest reference magnitude (element-wise near zero is noise)."""
    scale = reference.abs().max().item()
    torch.testing.assert_close(output, reference, rtol=rtol, atol=rtol * max(scale, 1e-6))


def state_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_state_unchanged(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> None:
    state = model.state_dict()
    assert state.keys() == snapshot.keys()
    for key, value in snapshot.items():
        assert torch.equal(state[key], value), f"{key} changed"


@pytest.fixture
def bn_tools() -> SimpleNamespace:
    """The helpers above, for test modules (pytest's importlib mode has no sibling imports)."""
    return SimpleNamespace(
        randomise=randomise_batchnorm_, count=count_batchnorm, assert_close=assert_outputs_close,
        snapshot=state_snapshot, assert_unchanged=assert_state_unchanged,
    )
