"""Training a network for a fixed number of epochs with SGD and a cosine schedule, one path per step: the
supernet with a path sampled uniformly before every step (SPOS, Guo et al. 2020, Sec. 3.2), a stand-alone
child with its one path. The same loop trains both, so the only difference is the weight sharing.

The supernet is checkpointed (atomically, weights only) after every epoch in ``<out>/supernet.pt`` with the
settings that made it; the same settings continue it, a finished one is loaded, other settings are refused.
Path ``t`` of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e])``, so a resumed run samples
the paths an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.arith.checks import require_positive, require_range, require_seed
from cnnlab.errors import ConfigError
from cnnlab.nas.oneshot.supernet import NB201Supernet
from cnnlab.train.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.train.config import TrainConfig
from cnnlab.train.optim import build_optimizer, build_scheduler

__all__ = ["PathTraining", "train_paths", "train_supernet", "SUPERNET_FILE"]

SUPERNET_FILE = "supernet.pt"
_FORMAT = "cnnlab-nb201-supernet/1"


@dataclass(frozen=True)
class PathTraining:
    """The budget of one training run: epochs over the loader, SGD (momentum 0.9, Nesterov) at peak ``lr``
    with a per-step cosine decay to 0, weight decay on conv/linear weights (cnnlab's trainer's optimizer,
    :mod:`cnnlab.train.optim`), ``seed`` for the initial weights and the paths."""

    epochs: int = 5
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0

    def __post_init__(self) -> None:
        where = "oneshot training"
        require_positive("epochs", self.epochs, where)
        require_range("lr", self.lr, 0.0, None, where, low_open=True)
        require_range("momentum", self.momentum, 0.0, 1.0, where, high_open=True)
        require_range("weight_decay", self.weight_decay, 0.0, None, where)
        require_seed("seed", self.seed, where)

    def train_config(self, batch_size: int) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=batch_size, lr=self.lr, momentum=self.momentum,
                           nesterov=True, weight_decay=self.weight_decay, schedule="cosine", seed=self.seed)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_paths(model: nn.Module, loader: Any, budget: PathTraining,
                before_step: Callable[[int, int], None] | None = None, start_epoch: int = 0,
                optimizer_state: dict[str, Any] | None = None,
                on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> dict[str, float]:
    """Train ``model`` in place; ``before_step(epoch, step)`` runs before every step (the supernet samples its
    path there). Optimizer and schedule come from :mod:`cnnlab.train.optim`; torch's SGD skips parameters
    without a gradient, so an op off the path gets neither a step nor weight decay nor momentum.
    ``on_epoch_end(epoch, training_state)`` gets the optimizer and scheduler state to checkpoint.
    Returns the last epoch's mean training loss and accuracy (NaN when no epoch ran)."""
    config = budget.train_config(loader.batch_size)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, len(loader))
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state["optimizer"])
        scheduler.load_state_dict(optimizer_state["scheduler"])
    criterion = nn.CrossEntropyLoss()
    device = _device(model)
    metrics = {"train_loss": float("nan"), "train_acc": float("nan")}
    for epoch in range(start_epoch, budget.epochs):
        model.train()
        loader.set_epoch(epoch)
        loss_sum, correct, count = 0.0, 0, 0
        for step, (images, labels) in enumerate(loader):
            if before_step is not None:
                before_step(epoch, step)
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss = criterion(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * labels.numel()
            correct += int((logits.argmax(1) == labels).sum())
            count += labels.numel()
        metrics = {"train_loss": loss_sum / max(count, 1), "train_acc": correct / max(count, 1)}
        if on_epoch_end is not None:
            on_epoch_end(epoch, {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                 **metrics})
    return metrics


def _settings(supernet: NB201Supernet, budget: PathTraining, data: dict[str, Any]) -> dict[str, Any]:
    return {"C": supernet.C, "N": supernet.N, "num_classes": supernet.num_classes, "in_chans": supernet.in_chans,
            **dataclasses.asdict(budget), **data}


def _load(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state = load_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ConfigError(f"{path} is not an NB201 supernet checkpoint; delete it to train the supernet afresh")
    saved = state.get("settings", {})
    differ = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if differ:
        shown = ", ".join(f"{k}: {saved.get(k)!r} there, {settings.get(k)!r} here" for k in differ)
        raise ConfigError(f"{path} holds a supernet trained with other settings ({shown}); use another --out "
                          "or delete the file")
    return state


def train_supernet(supernet: NB201Supernet, loader: Any, budget: PathTraining, out: str | Path | None = None,
                   data: dict[str, Any] | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or continue, or load) the supernet with uniform single-path sampling; with ``out``, checkpoint
    every epoch to ``out/supernet.pt`` (``data``: what identifies the training data, stored with the settings).
    Returns ``{"epochs_run", "train_loss", "train_acc", "settings"}``."""
    settings = _settings(supernet, budget, data or {})
    path = None if out is None else Path(out) / SUPERNET_FILE
    state = None if path is None else _load(path, settings)
    start, optimizer_state, history = 0, None, {}
    if state is not None:
        supernet.load_state_dict(state["model"])
        start, optimizer_state = int(state["epoch"]) + 1, state["training"]
        history = {"train_loss": state["training"]["train_loss"], "train_acc": state["training"]["train_acc"]}
    rng: dict[str, np.random.Generator] = {}

    def sample(epoch: int, step: int) -> None:
        if epoch not in rng:
            rng.clear()
            rng[epoch] = np.random.default_rng([budget.seed, epoch])
        supernet.sample_arch(rng[epoch])

    def checkpoint(epoch: int, training: dict[str, Any]) -> None:
        if log is not None:
            log(f"supernet epoch {epoch + 1}/{budget.epochs}: loss {training['train_loss']:.4f}, "
                f"train acc {training['train_acc']:.4f}")
        if path is not None:
            save_checkpoint(path, {"format": _FORMAT, "settings": settings, "epoch": epoch,
                                   "model": supernet.state_dict(), "training": training})

    metrics = train_paths(supernet, loader, budget, sample, start, optimizer_state, checkpoint)
    if start >= budget.epochs:
        metrics = history
    return {"epochs_run": budget.epochs - start, **metrics, "settings": settings}
