"""What the comparison needs to know about each model: a name, its family and paper, and a builder.

Model specs (``NAME[:key=value,...]``) are parsed and built by the registry
(``cnnlab.nets.registry.create_model_from_spec``); compare adds only the label of a run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from cnnlab.errors import ConfigError

__all__ = ["ModelSpec", "model_label", "parse_model_arg", "spec_from_registry", "specs_from_registry"]


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


def model_label(spec: str) -> str:
    """The label that names a spec's run folder and table row: ``nasnet:genotype=runs/best.json,C=8`` becomes
    ``nasnet-best-C8``, so two configurations of one network can stand side by side."""
    from cnnlab.nets.model_spec import split_model_spec

    name, pairs = split_model_spec(spec)
    parts = [name] + [Path(v).stem if ("/" in v or v.endswith(".json")) else f"{k}{''.join(v.split())}"
                      for k, v in pairs]
    return "-".join(parts)


def parse_model_arg(text: str) -> tuple[str, dict[str, object], str]:
    """Split ``NAME[:key=value,...]`` into (registered name, builder kwargs, label); the parsing is the
    registry's (:func:`cnnlab.nets.model_spec.parse_model_spec`)."""
    from cnnlab.nets.model_spec import parse_model_spec

    name, kwargs = parse_model_spec(text)
    return name, kwargs, model_label(text)


def spec_from_registry(text: str) -> ModelSpec:
    """The spec of a registered model, ``NAME`` or ``NAME:key=value,...`` (builder arguments).

    Unknown names (with close matches) and unknown or bad builder arguments raise the registry's
    ConfigError here, before any training starts: the model is built once on the meta device.
    """
    import torch

    from cnnlab.nets.registry import create_model_from_spec, model_info

    name, _, label = parse_model_arg(text)
    with torch.device("meta"):  # the registry names an unknown model (with close matches) or argument
        create_model_from_spec(text)
    info = model_info(name)
    family = _info_field(info, "family") or name.split("_")[0]
    paper = _info_field(info, "paper")

    def build(num_classes: int, in_chans: int) -> nn.Module:
        return create_model_from_spec(text, num_classes=num_classes, in_chans=in_chans)

    return ModelSpec(name=label, family=family, paper=paper, build=build)


def specs_from_registry(names: list[str]) -> list[ModelSpec]:
    if not names:
        raise ConfigError("compare needs at least one model name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"model names given to compare more than once: {duplicates}")
    return [spec_from_registry(name) for name in names]
