"""Scoring a child with the supernet's weights (SPOS, Guo et al. 2020, Sec. 3.3): the child inherits its
path's weights, its BatchNorm statistics are recomputed on a few training batches with those weights (the
supernet's running statistics mix every path it trained), then it is evaluated on held-out validation
images. Every child sees the same calibration batches, so scores differ only by architecture.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.oneshot.supernet import NB201Supernet, inherit
from cnnlab.train.evaluate import evaluate
from cnnlab.train.precise_bn import recompute_batchnorm_stats

__all__ = ["calibration_batches", "recalibrate", "inherited_accuracy"]


def calibration_batches(loader: Iterable[tuple[torch.Tensor, torch.Tensor]], num_batches: int,
                        epoch: int = 0) -> list[torch.Tensor]:
    """The images of the first ``num_batches`` batches of ``loader`` (in its order of ``epoch``), kept
    so that every child is recalibrated on the same images."""
    require_positive("bn_batches", num_batches, "oneshot BatchNorm recalibration")
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)
    batches = []
    for images, _ in loader:
        if len(batches) == num_batches:
            break
        batches.append(images)
    if not batches:
        raise ConfigError("oneshot BatchNorm recalibration: the training loader yields no batch")
    return batches


def recalibrate(model: nn.Module, batches: list[torch.Tensor]) -> int:
    """Recompute every BatchNorm's running mean and variance as the equal-weight average over ``batches``
    (:func:`cnnlab.train.precise_bn.recompute_batchnorm_stats`); the weights are not touched."""
    device = next(model.parameters()).device
    return recompute_batchnorm_stats(model, (b.to(device) for b in batches), len(batches))


def inherited_accuracy(supernet: NB201Supernet, arch: str, batches: list[torch.Tensor],
                       val_loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Validation accuracy (a fraction) of ``arch`` with the supernet's weights after BN recalibration on
    ``batches``; the supernet itself is left as it was."""
    child = inherit(supernet, arch)
    recalibrate(child, batches)
    return float(evaluate(child, val_loader))
