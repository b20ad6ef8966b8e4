"""Hard cost constraints of a search: ``--max-macs``, ``--max-params``, ``--max-latency-ms``.

A child is measured before it trains (:func:`cnnlab.nas.objectives.measure_costs`: MACs and parameters
on the meta device, free); one over a limit is not trained. The engine records it as a PRUNED trial with
user attr ``violates`` (the limits it breaks) and its costs — not FAIL, so a tight limit does not count
towards ``--max-failures``, and not COMPLETE, so it never enters the budget, best.json or the Pareto
front. (Optuna's ``constraints_func`` convention serves its own samplers; here cnnlab's strategies
propose, and a child that was never trained has no accuracy to store.) The strategy learns it with
reward 0, the worst accuracy, so it moves away from it.

A limit that no child can meet is a :class:`ConfigError` before the search starts: a limit that is not
a positive finite number, and, where the cheapest child of the space is known (``nb201`` and ``micro``:
every edge ``none``; costs add up per edge and ``none`` costs nothing), a MACs or parameter limit below
that child's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnnlab.arith.checks import require_range
from cnnlab.errors import ConfigError

__all__ = ["CostLimits", "cheapest_tokens", "check_satisfiable"]

# flag -> (objective name whose cost it bounds, cost key in a trial's user attrs)
_LIMITS = {"--max-macs": ("max_macs", "macs"), "--max-params": ("max_params", "params"),
           "--max-latency-ms": ("max_latency_ms", "latency_ms")}
_OBJECTIVE_OF = {"macs": "macs", "params": "params", "latency_ms": "latency"}


@dataclass(frozen=True)
class CostLimits:
    """Upper limits on a child's MACs per image, parameters and latency (ms); None: no limit."""

    max_macs: float | None = None
    max_params: float | None = None
    max_latency_ms: float | None = None

    def __post_init__(self) -> None:
        for flag, (field, _) in _LIMITS.items():
            value = getattr(self, field)
            if value is not None:
                require_range(flag, value, 0.0, None, "search: a cost limit no child can meet", low_open=True)

    @property
    def active(self) -> bool:
        return any(getattr(self, field) is not None for field, _ in _LIMITS.values())

    def cost_names(self) -> set[str]:
        """The objectives (``macs``, ``params``, ``latency``) that must be measured to check the limits."""
        return {_OBJECTIVE_OF[key] for flag, (field, key) in _LIMITS.items() if getattr(self, field) is not None}

    def settings(self) -> dict[str, float] | None:
        """The limits as a study setting (None when there are none, as in studies made before them)."""
        given = {field: float(getattr(self, field)) for field, _ in _LIMITS.values() if getattr(self, field) is not None}
        return given or None

    def violations(self, costs: dict[str, float]) -> list[str]:
        """What the child with ``costs`` breaks, one phrase per limit (empty: it may train)."""
        broken = []
        for flag, (field, key) in _LIMITS.items():
            limit = getattr(self, field)
            if limit is not None and costs[key] > limit:
                broken.append(f"{key} {costs[key]:,.6g} > {flag} {limit:,.6g}")
        return broken


def cheapest_tokens(space: Any) -> list[int] | None:
    """The tokens of the space's cheapest child (fewest MACs and parameters), where it is known: every
    edge ``none`` in the ``nb201`` and ``micro`` spaces. None for the other spaces."""
    if space.name == "nb201":
        from cnnlab.nas.nb201_arch import NB201_OPS

        return [NB201_OPS.index("none")] * len(space.choices)
    if space.name == "micro":
        from cnnlab.nas.micro import MICRO_OPS

        return [MICRO_OPS.index("none")] * len(space.choices)
    return None


def check_satisfiable(limits: CostLimits, space: Any, shape: Any) -> None:
    """ConfigError when a MACs or parameter limit is below the cheapest child of ``space`` at ``shape``
    (a :class:`cnnlab.nas.objectives.ChildShape`)."""
    names = limits.cost_names() - {"latency"}  # latency is measured, not known in advance
    tokens = cheapest_tokens(space)
    if not names or tokens is None:
        return
    from cnnlab.nas.objectives import measure_costs

    costs = measure_costs(space.decode(tokens), shape, names)
    for flag, (field, key) in _LIMITS.items():
        limit = getattr(limits, field)
        if limit is not None and key in costs and costs[key] > limit:
            raise ConfigError(
                f"search: {flag} {limit:g} cannot be met by any child of --space {space.name}: its cheapest "
                f"child (every edge 'none') has {costs[key]:,} {key} at input {shape.label()} "
                f"(C={shape.C}, N={shape.N}); raise the limit")
