"""Scoring a child architecture: a short training run with cnnlab's trainer on real data, or the
toy objective for tests (``data="toy"``)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.nas.spaces import SearchSpace, build_network
from cnnlab.nas.toy import toy_reward

__all__ = ["DATASETS", "ChildBudget", "train_child", "make_objective"]

DATASETS = ("digits", "fashion-mnist", "toy")
CHILD_TEST_IMAGES = 256


@dataclass(frozen=True)
class ChildBudget:
    """How much a child gets: epochs, batch size, an optional cap on training images, and its size
    (C: channels of the first stage, N: normal cells per stage)."""

    epochs: int = 1
    batch_size: int = 64
    limit_train: int | None = None
    C: int = 8
    N: int = 1
    lr: float = 0.05
    seed: int = 0


@functools.lru_cache(maxsize=4)
def _loaders(data: str, batch_size: int, seed: int, limit_train: int | None):
    from cnnlab.data import make_loaders

    # a child is ranked by validation accuracy; its test accuracy is never used, so the trainer's
    # final test pass runs on a small subset only
    return make_loaders(data, batch_size=batch_size, val_fraction=0.1, seed=seed, limit_train=limit_train,
                        limit_test=CHILD_TEST_IMAGES)


def train_child(genotype: dict[str, Any], data: str, budget: ChildBudget) -> float:
    """Train the genotype's network for ``budget.epochs`` and return its best validation accuracy
    as a fraction in [0, 1]."""
    from cnnlab.train import TrainConfig, fit

    bundle = _loaders(data, budget.batch_size, budget.seed, budget.limit_train)
    torch.manual_seed(budget.seed)
    model = build_network(genotype, num_classes=bundle.num_classes, in_chans=bundle.in_chans, C=budget.C, N=budget.N)
    config = TrainConfig(epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr, seed=budget.seed)
    result = fit(model, bundle, config, out_dir=None, resume=False, progress=False)
    accuracy = float(result.best_val_acc)
    return accuracy / 100.0 if accuracy > 1.0 else accuracy


def make_objective(space: SearchSpace, data: str, budget: ChildBudget, toy_seconds: float = 0.0
                   ) -> Callable[[list[int], dict[str, Any]], float]:
    """objective(tokens, genotype) -> accuracy for the engine."""
    require_choice("data", data, DATASETS, "search")
    require_positive("epochs_per_trial", budget.epochs, "search")
    if data == "toy":
        def toy(tokens: list[int], genotype: dict[str, Any]) -> float:
            time.sleep(toy_seconds)
            return toy_reward(tokens, space.choices)

        return toy
    _loaders(data, budget.batch_size, budget.seed, budget.limit_train)  # a missing dataset fails here, not in a trial
    return lambda tokens, genotype: train_child(genotype, data, budget)
