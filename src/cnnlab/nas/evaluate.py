"""Scoring a child architecture: a short training run with cnnlab's trainer on real data, the
NAS-Bench-201 table (``data="nb201:cifar10"`` …, :mod:`cnnlab.nas.tabular`), or the toy objective for
tests (``data="toy"``). Before a child trains, its size is checked on the meta device
(:mod:`cnnlab.nas.child_size`). :func:`make_goals` turns the cost-aware options (objectives, cost limits,
pruner, prefilter) into the engine's :class:`cnnlab.nas.engine.Goals` for a data.

Where a child's costs are measured (:func:`child_shape`): a real dataset at its native size (the data
catalog's facts, no image read); ``toy`` at digits' 1x8x8 (the toy objective has no images; its costs are
those of the child digits would train); ``nb201:*`` the benchmark's own network (C=16, N=5, 3x32x32 for
CIFAR, 3x16x16 for ImageNet16-120), whose accuracies the table holds."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from cnnlab.arith.checks import require_choice, require_positive, require_range, require_seed
from cnnlab.data import catalog
from cnnlab.errors import ConfigError
from cnnlab.nas.child_size import ChildCost, ChildTooLarge, available_memory_bytes, child_cost, too_large
from cnnlab.nas.objectives import ChildShape
from cnnlab.nas.spaces import SearchSpace, build_network
from cnnlab.nas.tabular import TABULAR_PREFIX, tabular_dataset, tabular_objective
from cnnlab.nas.toy import toy_reward

__all__ = ["DATASETS", "ChildBudget", "train_child", "make_objective", "measure_child", "child_shape",
           "reports_per_epoch", "make_goals"]

# the data catalog's built-in datasets by their own names, the toy objective and the NB201 table's three
TABULAR_DATASETS = ("cifar10", "cifar100", "imagenet16-120")  # cnnlab.nas.nb201_table.DATASETS
DATASETS = (*catalog.DATASETS, "toy", *(f"{TABULAR_PREFIX}{d}" for d in TABULAR_DATASETS))
CHILD_TEST_IMAGES = 256
# the NAS-Bench-201 network the table's accuracies belong to (Dong & Yang 2020, Sec. 2.1: C=16, N=5)
NB201_BENCHMARK_C, NB201_BENCHMARK_N = 16, 5
_NB201_INPUT = {"cifar10": (10, 3, (32, 32)), "cifar100": (100, 3, (32, 32)), "imagenet16-120": (120, 3, (16, 16))}


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
    shape = child_shape(data, budget)  # the catalog's facts: no image is read
    cost = child_cost(genotype, shape.num_classes, shape.in_chans, shape.image_size, budget.C, budget.N,
                      budget.batch_size)
    return cost, too_large(cost, available_memory_bytes(_training_device()))


def reports_per_epoch(data: str) -> bool:
    """Whether a child on ``data`` reports an accuracy after every epoch (it trains; toy and the NB201
    table score it at once)."""
    return data != "toy" and tabular_dataset(data) is None


def _check_data(data: str) -> None:
    """One of :data:`DATASETS`: a built-in dataset of the data catalog by its own name, toy or ``nb201:*``."""
    if tabular_dataset(data) is None:
        require_choice("--data", data, DATASETS, "search")


def child_shape(data: str, budget: ChildBudget) -> ChildShape:
    """The input (classes, channels, image size) and width at which a child's costs are measured."""
    tabular = tabular_dataset(data)
    if tabular is not None:
        classes, chans, size = _NB201_INPUT[tabular]
        return ChildShape(classes, chans, size, NB201_BENCHMARK_C, NB201_BENCHMARK_N)
    _check_data(data)
    facts = catalog.dataset_facts("digits" if data == "toy" else data)
    return ChildShape(facts.num_classes, facts.in_chans, tuple(facts.image_size), budget.C, budget.N)


def train_child(genotype: dict[str, Any], data: str, budget: ChildBudget,
                report: Callable[[int, float], None] | None = None) -> float:
    """Train the genotype's network for ``budget.epochs`` and return its best validation accuracy
    as a fraction in [0, 1]; :class:`ChildTooLarge` when it cannot fit. ``report(epoch, accuracy)`` is
    called after every epoch with that epoch's validation accuracy (it may raise to stop the child)."""
    from cnnlab.train import TrainConfig, fit

    _, refusal = measure_child(genotype, data, budget)
    if refusal is not None:
        raise ChildTooLarge(refusal)
    bundle = _loaders(data, budget.batch_size, budget.seed, budget.limit_train)
    torch.manual_seed(budget.seed)
    model = build_network(genotype, num_classes=bundle.num_classes, in_chans=bundle.in_chans, C=budget.C, N=budget.N)
    config = TrainConfig(epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr, seed=budget.seed,
                         channels_last=budget.channels_last)
    on_epoch_end = None if report is None else (lambda epoch, record: report(epoch, float(record["val_acc"])))
    result = fit(model, bundle, config, out_dir=None, resume=False, progress=False, on_epoch_end=on_epoch_end)
    accuracy = float(result.best_val_acc)
    return accuracy / 100.0 if accuracy > 1.0 else accuracy


def make_objective(space: SearchSpace, data: str, budget: ChildBudget, toy_seconds: float = 0.0,
                   noise: float = 0.0) -> Callable[[list[int], dict[str, Any]], float]:
    """objective(tokens, genotype) -> accuracy (a fraction) for the engine; ``noise`` (points) only for
    the tabular ``nb201:*`` data."""
    if tabular_dataset(data) is not None:
        return tabular_objective(space.name, data, noise, budget.seed)
    _check_data(data)
    require_range("--toy-seconds", toy_seconds, 0.0, None, "search")
    if noise:
        raise ConfigError(f"--noise {noise} applies to a score read from a table (--data nb201:...), not to "
                          f"--data {data!r}")
    if data == "toy":
        def toy(tokens: list[int], genotype: dict[str, Any]) -> float:
            time.sleep(toy_seconds)
            return toy_reward(tokens, space.choices)

        return toy
    _loaders(data, budget.batch_size, budget.seed, budget.limit_train)  # a missing dataset fails here, not in a trial
    return lambda tokens, genotype, report=None: train_child(genotype, data, budget, report)


def _proxy_batch(data: str, budget: ChildBudget, shape: ChildShape, proxy: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch for a zero-cost proxy: the first training batch of real data; seeded Gaussian noise of the
    data's shape where there are no images (then only the data-free proxies make sense)."""
    from cnnlab.nas.proxies import DATA_FREE

    if reports_per_epoch(data):
        images, labels = next(iter(_loaders(data, budget.batch_size, budget.seed, budget.limit_train).train))
        return images.float(), labels.long()
    if proxy not in DATA_FREE:
        raise ConfigError(f"--prefilter {proxy}:...: --data {data!r} has no images to score {proxy!r} on; use a "
                          f"data-free proxy ({', '.join(sorted(DATA_FREE))})")
    generator = torch.Generator().manual_seed(budget.seed)
    images = torch.randn(shape.input_size(budget.batch_size), generator=generator)
    return images, torch.randint(0, shape.num_classes, (budget.batch_size,), generator=generator)


def make_goals(space: SearchSpace, data: str, budget: ChildBudget, objectives: str | tuple[str, ...] = "accuracy",
               limits: Any = None, pruner: str = "none", prefilter: str | None = None, seed: int = 0) -> Any:
    """The engine's :class:`cnnlab.nas.engine.Goals` for ``--objective``, the cost limits (a
    :class:`cnnlab.nas.constraints.CostLimits`), ``--pruner`` and ``--prefilter`` on ``data``; every bad
    value is a ConfigError naming it, before any trial exists."""
    from cnnlab.nas.constraints import CostLimits, check_satisfiable
    from cnnlab.nas.engine import Goals
    from cnnlab.nas.fidelity import check_pruner
    from cnnlab.nas.objectives import measure_costs, parse_objectives
    from cnnlab.nas.prefilter import choose, parse_prefilter, proxy_scorer

    names = parse_objectives(objectives)
    limits = CostLimits() if limits is None else limits
    check_pruner(pruner, data, reports_per_epoch(data), names, budget.epochs)
    screen = parse_prefilter(prefilter)
    shape = child_shape(data, budget)
    check_satisfiable(limits, space, shape)
    costs = (set(names) - {"accuracy"}) | limits.cost_names()
    measure = None if not costs else functools.partial(measure_costs, shape=shape, names=tuple(sorted(costs)))
    choose_fn = None
    if screen is not None:
        batch = _proxy_batch(data, budget, shape, screen.proxy)

        def build(genotype: dict[str, Any]) -> torch.nn.Module:
            return build_network(genotype, num_classes=shape.num_classes, in_chans=shape.in_chans, C=shape.C,
                                 N=shape.N)

        score = proxy_scorer(screen.proxy, build, space.decode, batch, budget.seed)

        def allowed(tokens: list[int]) -> bool:
            return not limits.violations(measure(space.decode(tokens)))

        def choose_fn(tokens: list[int]) -> tuple[list[int], list[dict[str, Any]]]:
            return choose(tokens, space.choices, screen, seed, score, allowed if limits.active else None)

    return Goals(objectives=names, limits=limits, pruner=pruner, epochs=budget.epochs, measure=measure,
                 prefilter=choose_fn, prefilter_setting=None if screen is None else screen.setting())
