"""Multi-fidelity search: a child reports its validation accuracy after every epoch (Optuna's
``trial.report``), and a pruner stops the weak ones early (``--pruner``):

- ``sha``: Optuna's ``SuccessiveHalvingPruner`` (asynchronous successive halving, Li et al. 2020, "A
  System for Massively Parallel Hyperparameter Tuning"), rungs at epochs 1, 4, 16 … (min_resource 1,
  Optuna's reduction factor 4): at a rung, a child continues only if its accuracy is in the top 1/4 of
  the children that reached it;
- ``hyperband``: Optuna's ``HyperbandPruner`` (Li et al. 2018, JMLR), several successive-halving
  brackets from min_resource 1 to max_resource ``--epochs-per-trial``, reduction factor 3;
- ``none``: every child trains all its epochs (the default).

A pruned child is a PRUNED trial whose value is its last reported accuracy; the strategy learns that
value. A pruner needs per-epoch reports (children trained on real data, ``--epochs-per-trial`` ≥ 2: with
one epoch nothing can be stopped early) and one objective: Optuna's multi-objective studies do not
support pruning (``Trial.report`` raises ``NotImplementedError``: an intermediate accuracy cannot be
ranked against a Pareto front).
"""

from __future__ import annotations

import optuna

from cnnlab.arith.checks import require_choice
from cnnlab.errors import ConfigError

__all__ = ["PRUNERS", "make_pruner", "check_pruner"]

PRUNERS = ("none", "sha", "hyperband")


def check_pruner(name: str, data: str, reports_per_epoch: bool, objectives: tuple[str, ...], epochs: int) -> None:
    """ConfigError naming the value when ``--pruner name`` cannot prune this search."""
    require_choice("--pruner", name, PRUNERS, "search")
    if name == "none":
        return
    if not reports_per_epoch:
        raise ConfigError(f"--pruner {name}: --data {data!r} scores a child at once, with no per-epoch "
                          "accuracy to prune on; use --pruner none or data children train on")
    if len(objectives) > 1:
        raise ConfigError(f"--pruner {name} with --objective {','.join(objectives)}: Optuna's multi-objective "
                          "studies do not support pruning (Trial.report raises); use one objective or "
                          "--pruner none")
    if epochs < 2:
        raise ConfigError(f"--pruner {name} with --epochs-per-trial {epochs}: a child of one epoch cannot be "
                          "stopped early; give at least 2 epochs")


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """The Optuna pruner of ``--pruner name`` for children of ``epochs`` epochs."""
    require_choice("--pruner", name, PRUNERS, "search")
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()
