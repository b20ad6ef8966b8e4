"""SynFlow (Tanaka et al., NeurIPS 2020, "Pruning neural networks without any data by iteratively conserving
synaptic flow"), scored as Abdelfattah et al. (ICLR 2021) score a network: on a copy with every BatchNorm
removed, every parameter replaced by its absolute value, in double precision, one all-ones input of the batch's
image shape; R = the sum of the outputs, and the score is Σ |θ ⊙ ∂R/∂θ| over the weights of every Conv2d and
Linear. No data is read: only the batch's shape.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cnnlab.nas.proxies.common import Batch, inputs_of, weighted_layers

__all__ = ["synflow", "without_batchnorm"]


def without_batchnorm(model: nn.Module) -> nn.Module:
    """``model`` with every BatchNorm module replaced by an identity, in place; returns it."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            without_batchnorm(child)
    return model


def synflow(model: nn.Module, batch: Batch) -> float:
    """Σ |θ ⊙ ∂R/∂θ| of ``model`` at an all-ones input (Tanaka et al. 2020, Eq. 2 with 𝟙 input; the zero-cost
    paper's 'synflow': BN off, |θ|, float64). The model is not touched (a copy is scored, in eval mode so that
    dropout stays off; without BatchNorm the mode changes nothing else)."""
    x = inputs_of(batch, "synflow")
    shape, device = tuple(x.shape[1:]), x.device
    net = without_batchnorm(copy.deepcopy(model)).to(torch.float64).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    layers = weighted_layers(net)
    weights = [layer.weight for layer in layers]
    for w in weights:
        w.requires_grad_(True)
    out = net(torch.ones((1, *shape), dtype=torch.float64, device=device))
    if not out.requires_grad:  # no weight reaches the output
        return 0.0
    grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads, strict=True) if g is not None))
