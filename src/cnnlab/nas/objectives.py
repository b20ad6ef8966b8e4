"""What a search optimises: validation accuracy alone (the default), or accuracy and costs of the child
(``--objective accuracy,macs``; ``params``, ``latency`` as well) in an Optuna multi-objective study —
accuracy maximised, every cost minimised, the answer a Pareto front (Elsken et al. 2019, "Neural
Architecture Search: A Survey", Sec. 3.5; Tan et al. 2019, MnasNet, for latency as an objective).

Costs are the child's own, at the search's input size (:class:`ChildShape`): parameters and MACs per
image from :func:`cnnlab.inspect` on the meta device (free: nothing is allocated or computed), latency
the median of timed forward passes of one image on the CPU with one thread (:mod:`cnnlab.timing`; it
builds the network, so it costs a few milliseconds to a second per child, and is as noisy as the
machine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from cnnlab.errors import ConfigError

__all__ = ["OBJECTIVES", "COST_KEYS", "ChildShape", "parse_objectives", "directions", "is_multi_objective",
           "measure_costs", "objective_values"]

# objective name -> Optuna direction
OBJECTIVES: dict[str, str] = {"accuracy": "maximize", "macs": "minimize", "params": "minimize",
                              "latency": "minimize"}
# objective name -> the key of its value in a trial's user attrs (unit in the name)
COST_KEYS: dict[str, str] = {"macs": "macs", "params": "params", "latency": "latency_ms"}
LATENCY_REPEATS = 7


@dataclass(frozen=True)
class ChildShape:
    """The input a child's costs are measured at: the data's classes, channels and image size, and the
    child's width ``C`` and normal cells per stage ``N``."""

    num_classes: int
    in_chans: int
    image_size: tuple[int, int]
    C: int
    N: int

    def input_size(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.in_chans, *self.image_size)

    def label(self) -> str:
        return "x".join(str(d) for d in self.input_size())


def parse_objectives(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"accuracy,macs"`` → ``("accuracy", "macs")``: known names, no repeats, accuracy first (the
    strategies learn from it; a search without accuracy would find the empty network)."""
    where = "--objective"
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    names = [p for p in parts if p]
    if not names:
        raise ConfigError(f"{where}: name the objectives, e.g. 'accuracy' or 'accuracy,macs'; got {text!r}")
    for name in names:
        if name not in OBJECTIVES:
            raise ConfigError(f"{where}: unknown objective {name!r}; known: {list(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: {text!r} names an objective twice")
    if names[0] != "accuracy":
        raise ConfigError(f"{where}: {text!r} must start with 'accuracy' (the costs are minimised next to it; "
                          "alone they would be won by the empty network)")
    return tuple(names)


def directions(objectives: Iterable[str]) -> list[str]:
    return [OBJECTIVES[name] for name in objectives]


def is_multi_objective(objectives: Iterable[str]) -> bool:
    return len(tuple(objectives)) > 1


def _latency_ms(genotype: dict[str, Any], shape: ChildShape) -> float:
    from cnnlab.nas.spaces import build_network
    from cnnlab.timing import median_seconds

    model = build_network(genotype, num_classes=shape.num_classes, in_chans=shape.in_chans, C=shape.C,
                          N=shape.N).eval()
    x = torch.randn(shape.input_size())
    return 1000.0 * median_seconds(lambda: model(x), repeats=LATENCY_REPEATS, warmup=1, threads=1)


def measure_costs(genotype: dict[str, Any], shape: ChildShape, names: Iterable[str]) -> dict[str, float]:
    """The costs ``names`` (objective names: ``macs``, ``params``, ``latency``) of the child of
    ``genotype``, keyed by :data:`COST_KEYS`; MACs per image and parameters come together from the meta
    device (either one asked for gives both)."""
    wanted = set(names)
    costs: dict[str, float] = {}
    if wanted & {"macs", "params"}:
        from cnnlab.nas.child_size import child_cost

        cost = child_cost(genotype, shape.num_classes, shape.in_chans, shape.image_size, shape.C, shape.N, 1)
        costs["macs"], costs["params"] = int(cost.macs), int(cost.params)
    if "latency" in wanted:
        costs["latency_ms"] = _latency_ms(genotype, shape)
    return costs


def objective_values(objectives: Iterable[str], accuracy: float, costs: Mapping[str, float]) -> list[float]:
    """The values of a trial in the order of ``objectives``: accuracy, then each cost."""
    return [float(accuracy) if name == "accuracy" else float(costs[COST_KEYS[name]]) for name in objectives]
