"""The model registry: ``@register_model``, ``create_model``, ``create_model_from_spec``, ``list_models``,
``model_info``.

Family modules (and the NAS models) register themselves when imported; the registry imports them on first
use, so ``import cnnlab.nets.registry`` stays cheap and the families may import this module freely. A name
is registered once: a second registration of it is a ConfigError.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nets.model_spec import parse_model_spec

if TYPE_CHECKING:
    from cnnlab.nets.published import PublishedWeights

__all__ = [
    "PROVIDER_MODULES",
    "ModelEntry",
    "create_model",
    "create_model_from_spec",
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
    published: PublishedWeights | None = None  # weights pretrained=True downloads; None: none published
    module: str = ""  # the module that registered it


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
    published: PublishedWeights | None = None,
) -> Any:
    """Register a model function under ``name`` (default: its ``__name__``); a name already registered is
    a ConfigError naming it and who registered it first.

    Usable bare (``@register_model``) or with metadata (``@register_model(family="nas", paper="...")``).
    ``builder``: the family builder the function forwards ``**kwargs`` to, so unknown keywords are caught.
    ``published``: the weights a library publishes for it (``create_model(name, pretrained=True)``).
    """

    def add(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or f.__name__
        if not isinstance(key, str) or not key:
            raise ConfigError(f"register_model: a model name must be a non-empty string, got {key!r}")
        if key in _REGISTRY:
            first = _REGISTRY[key]
            raise ConfigError(f"register_model: the model name {key!r} is already registered (family "
                              f"{first.family!r}, by {first.module or 'an unknown module'}); pick another name")
        accepted = _keyword_names(f)
        if accepted is None and builder is not None:
            accepted = _keyword_names(builder)
        module = (builder or f).__module__ if f.__module__ == __name__ else f.__module__
        _REGISTRY[key] = ModelEntry(key, f, family, paper or (inspect.getdoc(f) or "").split("\n")[0],
                                    dict(defaults or {}), accepted, builder, published, module)
        return f

    return add(fn) if fn is not None else add


def register_variant(name: str, builder: Callable[..., nn.Module], *, family: str, paper: str,
                     published: PublishedWeights | None = None, **defaults: Any) -> None:
    """Register ``name`` as ``builder(**defaults, **user_kwargs)``: a row of a family's variant table."""

    def build(**kwargs: Any) -> nn.Module:
        return builder(**{**defaults, **kwargs})

    build.__name__ = name
    build.__doc__ = f"{name}: {paper}"
    register_model(build, name=name, family=family, paper=paper, builder=builder, defaults=defaults,
                   published=published)


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
            _forget(module)
            raise
        except BaseException:
            _forget(module)
            raise


def _forget(module: str) -> None:
    """After ``module`` failed to import: drop what it registered, so a retry registers it afresh."""
    global _providers_loaded
    _providers_loaded = False
    for key in [k for k, e in _REGISTRY.items() if e.module == module]:
        del _REGISTRY[key]


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


# create_model's own keywords; a model spec may set them too (``resnet50:pretrained=true``)
_CREATE_KEYWORDS = frozenset({"pretrained", "checkpoint", "features_only"})


def _check_arguments(entry: ModelEntry, kwargs: Mapping[str, Any], where: str) -> None:
    if entry.accepted is None:
        return
    unknown = sorted(set(kwargs) - entry.accepted - _CREATE_KEYWORDS)
    if unknown:
        builder = getattr(entry.builder, "__name__", entry.name)
        raise ConfigError(f"{where}: unknown argument(s) {', '.join(unknown)} for builder {builder}; "
                          f"accepted: {', '.join(sorted(entry.accepted))}")


def _published(entry: ModelEntry, where: str) -> PublishedWeights:
    if entry.published is None:
        with_weights = ", ".join(n for n in sorted(_REGISTRY) if _REGISTRY[n].published is not None)
        raise ConfigError(f"{where}: cnnlab knows no published weights it can download and check for "
                          f"{entry.name!r}; pass weights you have with checkpoint=..., or pick a model with "
                          f"published weights: {with_weights}")
    return entry.published


def create_model(
    name: str,
    pretrained: bool = False,
    checkpoint: str | PathLike[str] | Mapping[str, Any] | None = None,
    features_only: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered network; optionally load weights (cnnlab's, torchvision's or timm's keys).

    ``pretrained=True`` loads the weights published for it (torchvision's ImageNet ``IMAGENET1K_V1``, the
    ones torchvision's own ``pretrained=True`` loads), downloaded once through torch hub's cache with the
    hash checked (:mod:`cnnlab.nets.published`); another ``num_classes`` gets a fresh classifier after
    loading. ``checkpoint``: a file or state dict to load instead. ``features_only=True`` returns a module
    giving the list of every stage's output.
    """
    from cnnlab.nets.base import FeatureExtractor, ZooNet

    entry = _entry(name)
    where = f"create_model({name!r})"
    _check_arguments(entry, kwargs, where)
    for flag, value in (("pretrained", pretrained), ("features_only", features_only)):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {flag} must be True or False, got {value!r}")
    reset_classes = None
    if pretrained:
        where = f"create_model({name!r}, pretrained=True)"
        if checkpoint is not None:
            raise ConfigError(f"{where}: give pretrained=True or checkpoint=..., not both")
        published = _published(entry, where)
        kwargs, reset_classes = published.arguments(kwargs, where)
    model = entry.fn(**kwargs)
    if isinstance(model, ZooNet):
        model.model_name = entry.name  # recorded in training checkpoints: `cnnlab export RUN/checkpoint.pt` works
    if pretrained:
        from cnnlab.nets.published import fetch_published

        checkpoint = fetch_published(entry.name, published)
    if checkpoint is not None:
        from cnnlab.nets.weights import load_weights

        load_weights(model, checkpoint, family=entry.family)
    if reset_classes is not None:
        model.reset_classifier(reset_classes)
    if features_only:
        if not isinstance(model, ZooNet):
            raise ConfigError(f"create_model({name!r}, features_only=True): this model has no stages")
        model = FeatureExtractor(model)
    return model


def create_model_from_spec(spec: str, **overrides: Any) -> nn.Module:
    """Build the model a spec names: ``NAME`` or ``NAME:key=value,...`` with builder arguments, e.g.
    ``"nasnet:genotype=best.json,C=8"`` (values: ints, floats, true/false, none, ``(2, 2)``, else strings).

    ``overrides`` (``num_classes``, ``in_chans``, ``checkpoint``, ...) win over the spec's own values. Every
    error is a ConfigError that names the spec and the bad key or value. The model's ``model_spec`` is
    ``spec``.
    """
    name, kwargs = parse_model_spec(spec)
    where = f"model spec {spec!r}"
    _check_arguments(_entry(name), kwargs, where)
    try:
        model = create_model(name, **{**kwargs, **overrides})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    model.model_spec = spec  # recorded in training checkpoints: `cnnlab export RUN` rebuilds the same network
    return model
