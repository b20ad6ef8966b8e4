"""What every proxy shares: reading a batch, the layers the zero-cost code scores, and scoring a network in
train mode without touching it.

The layers are those Abdelfattah et al. (ICLR 2021, "Zero-Cost Proxies for Lightweight NAS") read in their code
(``get_layer_metric_array``): every ``nn.Conv2d`` and ``nn.Linear``, scored on their weights only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Union

import torch
from torch import Tensor, nn

from cnnlab.errors import ConfigError

__all__ = ["Batch", "inputs_of", "labels_of", "weighted_layers", "scoring_mode"]

# a minibatch: (images, labels), or the images alone for the proxies that read no labels
Batch = Union[tuple[Tensor, Tensor], list, Tensor]


def inputs_of(batch: Batch, proxy: str) -> Tensor:
    """The images of ``batch``: a float (N, C, H, W) tensor with N ≥ 1."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    if not isinstance(x, Tensor) or x.dim() < 2 or x.shape[0] < 1 or not x.is_floating_point():
        raise ConfigError(f"proxy {proxy}: the batch must be (images, labels) with float images (N, C, H, W), "
                          f"got {type(x).__name__}{tuple(x.shape) if isinstance(x, Tensor) else ''}")
    return x


def labels_of(batch: Batch, proxy: str) -> Tensor:
    """The integer labels of ``batch``, one per image."""
    x = inputs_of(batch, proxy)
    y = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
    if not isinstance(y, Tensor) or y.shape != (x.shape[0],) or y.is_floating_point():
        raise ConfigError(f"proxy {proxy} reads labels: the batch must be (images, labels) with one integer label "
                          f"per image, got labels {None if y is None else tuple(y.shape)}")
    return y


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """Every Conv2d and Linear of ``model`` (each once, in module order): the layers the proxies score."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@contextlib.contextmanager
def scoring_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in train mode (batch statistics in BatchNorm, as the zero-cost code scores), given back as it
    was: every module's mode and every buffer (BatchNorm's running statistics) restored, hooks removed by
    the caller. Parameters and their ``.grad`` are not written by the proxies (they use ``autograd.grad``)."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    model.train()
    try:
        yield model
    finally:
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
        for m, training in modes:
            m.training = training
