"""What the comparison needs to know about each model: a name, its family and paper, and a builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from cnnlab.errors import ConfigError

__all__ = ["ModelSpec", "parse_model_arg", "spec_from_registry", "specs_from_registry"]


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


def _parse_value(text: str) -> object:
    """``3`` -> 3, ``0.5`` -> 0.5, ``true``/``false`` -> bool, ``none`` -> None, anything else a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def parse_model_arg(text: str) -> tuple[str, dict[str, object], str]:
    """Split ``NAME[:key=value,key=value]`` into (registered name, builder kwargs, label).

    The label names the run folder and the table row: ``nasnet:genotype=runs/best.json,C=8`` becomes
    ``nasnet-best-C8``, so two configurations of one network can stand side by side.
    """
    name, _, options = text.partition(":")
    kwargs: dict[str, object] = {}
    label_parts = [name.strip()]
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"model argument {text!r}: {item!r} is not key=value")
        kwargs[key.strip()] = _parse_value(value)
        shown = Path(value).stem if ("/" in value or value.endswith(".json")) else f"{key.strip()}{value.strip()}"
        label_parts.append(shown)
    return name.strip(), kwargs, "-".join(label_parts)


def spec_from_registry(text: str) -> ModelSpec:
    """The spec of a registered model, ``NAME`` or ``NAME:key=value,...`` (builder arguments).

    Unknown names (with close matches) and unknown or bad builder arguments raise the registry's
    ConfigError here, before any training starts: the model is built once on the meta device.
    """
    import torch

    from cnnlab import nets

    name, kwargs, label = parse_model_arg(text)
    with torch.device("meta"):  # the registry names an unknown model (with close matches) or argument
        nets.create_model(name, **kwargs)
    info = nets.model_info(name)
    family = _info_field(info, "family") or name.split("_")[0]
    paper = _info_field(info, "paper")

    def build(num_classes: int, in_chans: int) -> nn.Module:
        return nets.create_model(name, num_classes=num_classes, in_chans=in_chans, **kwargs)

    return ModelSpec(name=label, family=family, paper=paper, build=build)


def specs_from_registry(names: list[str]) -> list[ModelSpec]:
    if not names:
        raise ConfigError("compare needs at least one model name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"model names given to compare more than once: {duplicates}")
    return [spec_from_registry(name) for name in names]
