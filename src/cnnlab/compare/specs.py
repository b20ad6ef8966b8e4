"""What the comparison needs to know about each model: a name, its family and paper, and a builder."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from cnnlab.errors import ConfigError

__all__ = ["ModelSpec", "spec_from_registry", "specs_from_registry"]


@dataclass(frozen=True)
class ModelSpec:
    """``build(num_classes, in_chans)`` returns a fresh, randomly initialised model."""

    name: str
    family: str
    paper: str
    build: Callable[[int, int], nn.Module]


def _info_field(info: object, key: str) -> str:
    value = info.get(key) if isinstance(info, dict) else getattr(info, key, None)
    return "" if value is None else str(value)


def spec_from_registry(name: str) -> ModelSpec:
    """The spec of a model registered in ``cnnlab.nets``; ConfigError naming close matches if unknown."""
    from cnnlab import nets

    known = list(nets.list_models())
    if name not in known:
        close = difflib.get_close_matches(name, known, n=4)
        hint = f" — did you mean {', '.join(close)}?" if close else " (see `cnnlab list`)"
        raise ConfigError(f"unknown model {name!r} given to compare{hint}")
    info = nets.model_info(name)
    family = _info_field(info, "family") or name.split("_")[0]
    paper = _info_field(info, "paper")

    def build(num_classes: int, in_chans: int) -> nn.Module:
        return nets.create_model(name, num_classes=num_classes, in_chans=in_chans)

    return ModelSpec(name=name, family=family, paper=paper, build=build)


def specs_from_registry(names: list[str]) -> list[ModelSpec]:
    if not names:
        raise ConfigError("compare needs at least one model name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"model names given to compare more than once: {duplicates}")
    return [spec_from_registry(name) for name in names]
