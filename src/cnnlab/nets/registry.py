"""The model registry: ``@register_model``, ``create_model``, ``list_models``, ``model_info``.

Family modules (and the NAS models) register themselves when imported; the registry imports them on first
use, so ``import cnnlab.nets.registry`` stays cheap and the families may import this module freely.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from torch import nn

from cnnlab.errors import ConfigError

__all__ = [
    "PROVIDER_MODULES",
    "ModelEntry",
    "create_model",
    "list_models",
    "model_info",
    "register_model",
    "register_variant",
]

# Modules that fill the registry when imported. A missing "cnnlab.nas.models" is tolerated.
PROVIDER_MODULES: tuple[str, ...] = (
    "cnnlab.nets.vgg",
    "cnnlab.nets.googlenet",
    "cnnlab.nets.resnet",
    "cnnlab.nets.mobilenet",
    "cnnlab.nets.shufflenet",
    "cnnlab.nas.models",
)
_OPTIONAL_PROVIDERS = ("cnnlab.nas.models",)


@dataclass
class ModelEntry:
    """One registered name: the function that builds it and what a listing shows about it."""

    name: str
    fn: Callable[..., nn.Module]
    family: str
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)
    accepted: frozenset[str] | None = None  # keyword arguments create_model may pass; None: any
    builder: Callable[..., nn.Module] | None = None


_REGISTRY: dict[str, ModelEntry] = {}
_providers_loaded = False


def _keyword_names(fn: Callable[..., Any]) -> frozenset[str] | None:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


def register_model(
    fn: Callable[..., nn.Module] | None = None,
    *,
    name: str | None = None,
    family: str = "other",
    paper: str = "",
    builder: Callable[..., nn.Module] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Any:
    """Register a model function under ``name`` (default: its ``__name__``).

    Usable bare (``@register_model``) or with metadata (``@register_model(family="nas", paper="...")``).
    ``builder``: the family builder the function forwards ``**kwargs`` to, so unknown keywords are caught.
    """

    def add(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or f.__name__
        accepted = _keyword_names(f)
        if accepted is None and builder is not None:
            accepted = _keyword_names(builder)
        _REGISTRY[key] = ModelEntry(key, f, family, paper or (inspect.getdoc(f) or "").split("\n")[0],
                                    dict(defaults or {}), accepted, builder)
        return f

    return add(fn) if fn is not None else add


def register_variant(name: str, builder: Callable[..., nn.Module], *, family: str, paper: str,
                     **defaults: Any) -> None:
    """Register ``name`` as ``builder(**defaults, **user_kwargs)``: a row of a family's variant table."""

    def build(**kwargs: Any) -> nn.Module:
        return builder(**{**defaults, **kwargs})

    build.__name__ = name
    build.__doc__ = f"{name}: {paper}"
    register_model(build, name=name, family=family, paper=paper, builder=builder, defaults=defaults)


def _load_providers() -> None:
    global _providers_loaded
    if _providers_loaded:
        return
    _providers_loaded = True  # set first: providers import this module and may call list_models
    for module in PROVIDER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if module in _OPTIONAL_PROVIDERS and exc.name == module:
                continue
            _providers_loaded = False
            raise


def _entry(name: object) -> ModelEntry:
    _load_providers()
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string, got {name!r}")
    entry = _REGISTRY.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ConfigError(f"unknown model name {name!r}{hint} (see cnnlab.list_models() or `cnnlab list`)")
    return entry


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch ``pattern`` (e.g. ``"resnet*"``), sorted."""
    _load_providers()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def model_info(name: str) -> dict[str, Any]:
    """Name, family, paper and default configuration (builder defaults with the variant's overrides)."""
    entry = _entry(name)
    config: dict[str, Any] = {}
    source = entry.builder or entry.fn
    for p in inspect.signature(source).parameters.values():
        if p.default is not p.empty:
            config[p.name] = p.default
    config.update(entry.defaults)
    return {"name": entry.name, "family": entry.family, "paper": entry.paper, "default_config": config}


def create_model(
    name: str,
    pretrained: bool = False,
    checkpoint: str | PathLike[str] | Mapping[str, Any] | None = None,
    features_only: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered network; optionally load a checkpoint (cnnlab's or torchvision's keys).

    ``pretrained=True`` is refused: cnnlab downloads nothing, pass weights on disk via ``checkpoint=``.
    ``features_only=True`` returns a module giving the list of every stage's output.
    """
    entry = _entry(name)
    if pretrained:
        raise ConfigError(
            f"create_model({name!r}, pretrained=True): cnnlab does not download weights; pass a file or "
            f"state dict you have with checkpoint=..., e.g. torchvision's ImageNet .pth"
        )
    if entry.accepted is not None:
        unknown = sorted(set(kwargs) - entry.accepted)
        if unknown:
            builder = getattr(entry.builder, "__name__", entry.name)
            raise ConfigError(
                f"create_model({name!r}): unknown argument(s) {', '.join(unknown)} for builder {builder}; "
                f"accepted: {', '.join(sorted(entry.accepted))}"
            )
    model = entry.fn(**kwargs)
    model.model_name = entry.name  # recorded in training checkpoints, so `cnnlab export RUN/checkpoint.pt` works
    if checkpoint is not None:
        from cnnlab.nets.checkpoint import load_checkpoint

        load_checkpoint(model, checkpoint, family=entry.family)
    if features_only:
        from cnnlab.nets.base import FeatureExtractor

        if not hasattr(model, "stages"):
            raise ConfigError(f"create_model({name!r}, features_only=True): this model has no stages")
        model = FeatureExtractor(model)
    return model
