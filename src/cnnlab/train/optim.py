"""Optimizer and per-step learning-rate schedule of a run."""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnlab.train.config import TrainConfig

__all__ = ["build_optimizer", "build_scheduler", "lr_factor"]


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases and normalisation parameters (1-d tensors), as is standard."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = _param_groups(model, config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str, min_factor: float) -> float:
    """Multiplier of the peak lr at ``step``: linear warm-up, then cosine to ``min_factor`` (or flat, or,
    for ``"onecycle"``, a straight line down to ``min_factor``: Smith & Topin 2019's triangular cycle)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if schedule == "onecycle":
        return min_factor + (1.0 - min_factor) * (1.0 - min(1.0, progress))
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    total = config.epochs * steps_per_epoch
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    min_factor = config.min_lr / config.lr

    def factor(step: int) -> float:
        return lr_factor(step, total, warmup, config.schedule, min_factor)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
