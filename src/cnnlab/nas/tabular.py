"""Scoring a cell by a published table instead of training it: ``--data nb201:cifar10`` (or ``cifar100``,
``imagenet16-120``) reads the cell's 200-epoch test accuracy from the NAS-Bench-201 table
(:class:`cnnlab.nas.nb201_table.NB201Table`), optionally plus Gaussian noise of ``noise`` points — one draw
per cell and seed, what one short training run per cell would report. A whole search takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnlab.arith.checks import require_choice, require_range
from cnnlab.errors import ConfigError

__all__ = ["TABULAR_PREFIX", "tabular_dataset", "tabular_objective"]

TABULAR_PREFIX = "nb201:"


def tabular_dataset(data: str) -> str | None:
    """The NB201 dataset of ``--data nb201:DATASET`` (checked), None for any other ``--data``."""
    if not isinstance(data, str) or not data.startswith(TABULAR_PREFIX):
        return None
    from cnnlab.nas.nb201_table import DATASETS

    dataset = data[len(TABULAR_PREFIX):]
    require_choice(f"--data {data!r}: the NAS-Bench-201 dataset", dataset, DATASETS, "search")
    return dataset


def tabular_objective(space_name: str, data: str, noise: float, seed: int
                      ) -> Callable[[list[int], dict[str, Any]], float]:
    """objective(tokens, genotype) -> (table accuracy + noise) / 100, for the engine."""
    dataset = tabular_dataset(data)
    noise = require_range("--noise", noise, 0.0, None, "search")
    if space_name != "nb201":
        raise ConfigError(f"--data {data!r} scores NAS-Bench-201 cells by the benchmark's table; it needs "
                          f"--space nb201, not --space {space_name!r}")
    from cnnlab.nas.nb201_table import NB201Table

    table = NB201Table.load()
    scores = table.noisy_scores(dataset, noise, seed)

    def objective(tokens: list[int], genotype: dict[str, Any]) -> float:
        return float(scores[table.index(genotype["arch"])]) / 100.0

    return objective
