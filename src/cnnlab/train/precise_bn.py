"""Precise batch-norm statistics: recompute the running mean and variance after an epoch.

BatchNorm's running statistics are an exponential average (momentum 0.1) taken while the weights
still move, so after a short run they describe the network of some steps ago, and evaluation mode
can fall far below training accuracy. Recomputing them with the final weights, as an equal-weight
average over training batches, removes that lag (Wu & Johnson 2021, "Rethinking 'Batch' in
BatchNorm", §3; pycls ``BN.USE_PRECISE_STATS``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["recompute_batchnorm_stats"]


def recompute_batchnorm_stats(
    model: nn.Module, batches: Iterable[torch.Tensor], num_batches: int
) -> int:
    """Reset every tracking BatchNorm of ``model`` and average its statistics over ``num_batches``.

    Only the norm layers run in training mode; dropout and stochastic depth stay off, so no random
    number is drawn. Returns the number of batches used (fewer when ``batches`` runs out).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or num_batches <= 0:
        return 0
    was_training = model.training
    momenta = [norm.momentum for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average: every batch weighs the same
        norm.train()
    used = 0
    with torch.no_grad():
        for images in batches:
            if used == num_batches:
                break
            model(images)
            used += 1
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)
    return used
