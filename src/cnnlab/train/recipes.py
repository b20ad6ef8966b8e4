"""Training recipes as data: a name -> the TrainConfig settings it fixes (``cnnlab train --recipe NAME``,
``cnnlab compare --budget converged``).

- ``converged``: the documented long run of the comparison at convergence (docs/compare.md): SGD with
  Nesterov momentum (Sutskever et al. 2013), lr 0.1 at batch 128 with one epoch of warm-up and cosine decay
  (Loshchilov & Hutter 2017), weight decay 5e-4, label smoothing 0.1 (Szegedy et al. 2016), random crop after
  4 px of padding and horizontal flip (He et al. 2016, §4.2), BatchNorm statistics recomputed after each
  epoch (Wu & Johnson 2021). ``epochs`` is the budget's E.
- ``fast``: time to accuracy on a CPU (docs/training.md): a larger batch with the learning rate scaled
  linearly (Goyal et al. 2017), Nesterov, a one-cycle schedule, label smoothing, an EMA of the weights
  (``cnnlab.train.ema``), progressive resizing (small images early), flip test-time augmentation, and the
  in-memory uint8 augmentation path (``cnnlab.data.memory``). channels_last comes from the trainer's rule
  (``cnnlab.train.layout``: measured faster for every lecture network on this CPU); torch.compile is not
  used (its warm-up costs more than it saves here: benchmarks/results/time_to_accuracy*.md).

A recipe fixes its settings: only :data:`FREE_FIELDS` may be given alongside it (``batch_size`` rescales
the recipe's learning rate linearly); any other one is a ConfigError naming it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from cnnlab.errors import ConfigError
from cnnlab.train.config import TrainConfig

__all__ = ["RECIPES", "FREE_FIELDS", "recipe_names", "recipe_settings", "recipe_config"]

RECIPES: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType({
    "converged": MappingProxyType({
        "epochs": 20, "batch_size": 128, "lr": 0.1, "optimizer": "sgd", "momentum": 0.9, "nesterov": True,
        "weight_decay": 5e-4, "schedule": "cosine", "warmup_epochs": 1.0, "label_smoothing": 0.1,
        "crop_padding": 4, "hflip": True, "precise_bn_batches": 100,
    }),
    "fast": MappingProxyType({
        "epochs": 8, "batch_size": 512, "lr": 0.2, "optimizer": "sgd", "momentum": 0.9, "nesterov": True,
        "weight_decay": 5e-4, "schedule": "onecycle", "warmup_epochs": 1.0, "label_smoothing": 0.1,
        "ema_decay": 0.98, "tta_flip": True, "crop_padding": 2, "hflip": True,
        "resize_schedule": ((1, 0.5), (3, 0.75), (5, 1.0)), "precise_bn_batches": 4,
    }),
})  # fmt: skip

# what a command line may still choose under a recipe: the length of the run, its seed, where it runs, and
# the batch (the learning rate follows it linearly)
FREE_FIELDS = ("epochs", "batch_size", "seed", "device", "amp", "channels_last")


def recipe_names() -> list[str]:
    return sorted(RECIPES)


def recipe_settings(name: str, where: str = "--recipe") -> dict[str, Any]:
    """The TrainConfig fields recipe ``name`` fixes; an unknown name is a ConfigError naming it."""
    if name not in RECIPES:
        raise ConfigError(f"{where}: unknown recipe {name!r}; known recipes: {', '.join(recipe_names())}")
    return dict(RECIPES[name])


def recipe_config(name: str, where: str = "--recipe", **overrides: Any) -> TrainConfig:
    """The TrainConfig of recipe ``name`` with ``overrides`` of :data:`FREE_FIELDS` only. A ``batch_size``
    other than the recipe's scales its lr by ``batch_size / recipe batch_size`` (the linear scaling rule);
    its progressive-resizing epochs are kept within ``epochs``. ``epochs`` ≤ 0, an unknown recipe or a
    field the recipe fixes is a ConfigError naming the value."""
    settings = recipe_settings(name, where)
    fixed = sorted(set(overrides) - set(FREE_FIELDS))
    if fixed:
        raise ConfigError(f"{where} {name} fixes {', '.join(fixed)} (given {', '.join(f'{k}={overrides[k]!r}' for k in fixed)}); "
                          f"with a recipe only {', '.join(FREE_FIELDS)} may be set")  # fmt: skip
    if "batch_size" in overrides:
        settings["lr"] = settings["lr"] * overrides["batch_size"] / settings["batch_size"]
    settings.update(overrides)
    epochs = settings["epochs"]
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs <= 0:
        raise ConfigError(f"{where} {name}: epochs must be at least 1, got {epochs}")
    if "resize_schedule" in settings and isinstance(epochs, int):
        settings["resize_schedule"] = _fit_schedule(settings["resize_schedule"], epochs, RECIPES[name]["epochs"])
    return TrainConfig(**settings)


def _fit_schedule(schedule, epochs: int, written_for: int) -> tuple[tuple[int, float], ...]:  # noqa: ANN001
    """A progressive-resizing schedule written for ``written_for`` epochs, stretched or squeezed to ``epochs``:
    first epochs scaled in proportion; entries that meet on one epoch keep the later (larger) scale."""
    if epochs == written_for:
        return tuple(schedule)
    squeezed: list[tuple[int, int]] = []
    for first, scale in schedule:
        start = max(1, min(epochs, 1 + round((first - 1) * epochs / written_for)))
        if squeezed and start <= squeezed[-1][0]:
            squeezed[-1] = (squeezed[-1][0], scale)  # the later (larger) scale wins a shared epoch
        else:
            squeezed.append((start, scale))
    return tuple(squeezed)
