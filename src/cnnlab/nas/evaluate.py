"""Scoring a child architecture: a short training run with cnnlab's trainer on real data, the
NAS-Bench-201 table (``data="nb201:cifar10"`` …, :mod:`cnnlab.nas.tabular`), or the toy objective for
tests (``data="toy"``). Before a child trains, its size is checked on the meta device
(:mod:`cnnlab.nas.child_size`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from cnnlab.arith.checks import require_choice, require_positive, require_range, require_seed
from cnnlab.data import list_datasets
from cnnlab.errors import ConfigError
from cnnlab.nas.child_size import ChildCost, ChildTooLarge, available_memory_bytes, child_cost, too_large
from cnnlab.nas.spaces import SearchSpace, build_network
from cnnlab.nas.tabular import TABULAR_PREFIX, tabular_dataset, tabular_objective
from cnnlab.nas.toy import toy_reward

__all__ = ["DATASETS", "ChildBudget", "train_child", "make_objective", "measure_child"]

DATASETS = (*list_datasets(), "toy", f"{TABULAR_PREFIX}cifar10", f"{TABULAR_PREFIX}cifar100",
            f"{TABULAR_PREFIX}imagenet16-120")
CHILD_TEST_IMAGES = 256


@dataclass(frozen=True)
class ChildBudget:
    """How much a child gets: epochs, batch size, an optional cap on training images, and its size
    (C: channels of the first stage, N: normal cells per stage); ``channels_last`` is the trainer's
    memory layout (None: the trainer's default)."""

    epochs: int = 1
    batch_size: int = 64
    limit_train: int | None = None
    C: int = 8
    N: int = 1
    lr: float = 0.05
    seed: int = 0
    channels_last: bool | None = None

    def __post_init__(self) -> None:
        where = "search child budget"
        for flag, value in (("--epochs-per-trial", self.epochs), ("--batch-size", self.batch_size), ("--C", self.C),
                            ("--N", self.N)):
            require_positive(flag, value, where)
        if self.limit_train is not None:
            require_positive("--limit-train", self.limit_train, where)
        require_range("lr", self.lr, 0.0, None, where, low_open=True)
        require_seed("--seed", self.seed, where)


@functools.lru_cache(maxsize=4)
def _loaders(data: str, batch_size: int, seed: int, limit_train: int | None):
    from cnnlab.data import make_loaders

    # a child is ranked by validation accuracy; its test accuracy is never used, so the trainer's
    # final test pass runs on a small subset only
    return make_loaders(data, batch_size=batch_size, val_fraction=0.1, seed=seed, limit_train=limit_train,
                        limit_test=CHILD_TEST_IMAGES)


def _training_device() -> torch.device:
    """Where ``TrainConfig(device="auto")`` trains."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def measure_child(genotype: dict[str, Any], data: str, budget: ChildBudget) -> tuple[ChildCost, str | None]:
    """The child's costs on ``data`` and why it cannot train here (None: it fits)."""
    bundle = _loaders(data, budget.batch_size, budget.seed, budget.limit_train)
    cost = child_cost(genotype, bundle.num_classes, bundle.in_chans, tuple(bundle.image_size), budget.C, budget.N,
                      budget.batch_size)
    return cost, too_large(cost, available_memory_bytes(_training_device()))


def train_child(genotype: dict[str, Any], data: str, budget: ChildBudget) -> float:
    """Train the genotype's network for ``budget.epochs`` and return its best validation accuracy
    as a fraction in [0, 1]; :class:`ChildTooLarge` when it cannot fit."""
    from cnnlab.train import TrainConfig, fit

    _, refusal = measure_child(genotype, data, budget)
    if refusal is not None:
        raise ChildTooLarge(refusal)
    bundle = _loaders(data, budget.batch_size, budget.seed, budget.limit_train)
    torch.manual_seed(budget.seed)
    model = build_network(genotype, num_classes=bundle.num_classes, in_chans=bundle.in_chans, C=budget.C, N=budget.N)
    config = TrainConfig(epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr, seed=budget.seed,
                         channels_last=budget.channels_last)
    result = fit(model, bundle, config, out_dir=None, resume=False, progress=False)
    accuracy = float(result.best_val_acc)
    return accuracy / 100.0 if accuracy > 1.0 else accuracy


def make_objective(space: SearchSpace, data: str, budget: ChildBudget, toy_seconds: float = 0.0,
                   noise: float = 0.0) -> Callable[[list[int], dict[str, Any]], float]:
    """objective(tokens, genotype) -> accuracy (a fraction) for the engine; ``noise`` (points) only for
    the tabular ``nb201:*`` data."""
    if tabular_dataset(data) is not None:
        return tabular_objective(space.name, data, noise, budget.seed)
    require_choice("--data", data, DATASETS, "search")
    if noise:
        raise ConfigError(f"--noise {noise} applies to a score read from a table (--data nb201:...), not to "
                          f"--data {data!r}")
    if data == "toy":
        def toy(tokens: list[int], genotype: dict[str, Any]) -> float:
            time.sleep(toy_seconds)
            return toy_reward(tokens, space.choices)

        return toy
    _loaders(data, budget.batch_size, budget.seed, budget.limit_train)  # a missing dataset fails here, not in a trial
    return lambda tokens, genotype: train_child(genotype, data, budget)
