"""The pruning-at-initialisation saliencies of Abdelfattah et al. (ICLR 2021, "Zero-Cost Proxies for Lightweight
NAS", Sec. 3 and their code, foresight/pruners/measures), summed over every Conv2d and Linear weight. One batch,
cross-entropy loss L, the network in train mode (BatchNorm with batch statistics):

- ``grad_norm``: Σ_layers ‖∂L/∂W‖₂ (the Euclidean norm of each layer's weight gradient);
- ``snip`` (Lee et al., ICLR 2019): Σ |W ⊙ ∂L/∂W| (the gradient of a weight mask of ones);
- ``fisher`` (Theis et al. 2018, as Turner et al. 2020 use it): per output channel k of a layer with activation
  z (the layer's output), F_k = ½ · mean over images of (Σ_spatial z ⊙ ∂L/∂z)², and the code broadcasts F_k
  over the channel's weights before summing, so score = Σ_layers Σ_k F_k · (weights per output channel).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.nas.proxies.common import Batch, inputs_of, labels_of, scoring_mode, weighted_layers

__all__ = ["grad_norm", "snip", "fisher", "saliencies"]


def saliencies(model: nn.Module, batch: Batch, proxy: str = "snip/grad_norm/fisher") -> dict[str, float]:
    """{"grad_norm", "snip", "fisher"} from one forward and backward pass of the batch (the three read the same
    gradients; each public function below returns its entry). The model is not touched."""
    x, y = inputs_of(batch, proxy), labels_of(batch, proxy)
    fisher_total = torch.zeros((), dtype=torch.float64, device=x.device)

    def watch(layer: nn.Module, inputs: tuple, z: torch.Tensor) -> None:
        if not z.requires_grad:
            return
        act = z.detach()
        fan_in = math.prod(layer.weight.shape[1:])

        def on_grad(grad: torch.Tensor) -> None:
            nonlocal fisher_total
            g_nk = (act * grad).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * grad
            fisher_total = fisher_total + g_nk.double().pow(2).mean(0).mul(0.5).sum() * fan_in

        z.register_hook(on_grad)

    with scoring_mode(model):
        layers = weighted_layers(model)
        hooks = [layer.register_forward_hook(watch) for layer in layers]
        try:
            loss = F.cross_entropy(model(x), y)
            params = [p for p in model.parameters() if p.requires_grad]
            grads = torch.autograd.grad(loss, params, allow_unused=True) if loss.requires_grad and params else ()
        finally:
            for h in hooks:
                h.remove()
    found = {id(p): g for p, g in zip(params, grads, strict=False)}
    pairs = [(layer.weight.detach(), found.get(id(layer.weight))) for layer in layers]
    return {"grad_norm": float(sum(g.double().norm() for _, g in pairs if g is not None)),
            "snip": float(sum((w * g).double().abs().sum() for w, g in pairs if g is not None)),
            "fisher": float(fisher_total)}


def grad_norm(model: nn.Module, batch: Batch) -> float:
    """Σ over Conv2d / Linear layers of ‖∂L/∂W‖₂; the model is not touched."""
    return saliencies(model, batch, "grad_norm")["grad_norm"]


def snip(model: nn.Module, batch: Batch) -> float:
    """Σ |W ⊙ ∂L/∂W| over Conv2d / Linear weights (Lee et al. 2019, the connection sensitivity); the model is not
    touched."""
    return saliencies(model, batch, "snip")["snip"]


def fisher(model: nn.Module, batch: Batch) -> float:
    """Σ_layers Σ_k F_k · (fan-in of channel k) with F_k = ½ mean_n (Σ_hw z ⊙ ∂L/∂z)²_nk at each Conv2d / Linear
    output z; a layer run several times adds each run. The model is not touched."""
    return saliencies(model, batch, "fisher")["fisher"]
