"""The network a command works on: a registered ``NAME[:key=value,...]`` spec, or a class (or function) in a
Python file or an importable module, ``path/to/file.py:Class`` or ``package.module:Class``.

Registered specs go through the registry's one parser (``cnnlab.nets.registry.create_model_from_spec``),
so ``train``, ``show``, ``table``, ``rf``, ``export`` and ``compare`` read ``nasnet:genotype=best.json,C=8``
alike. A user's file that does not import or a class that cannot be built without arguments is a
ConfigError naming the file and the reason, like any other bad input.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from torch import nn

from cnnlab.errors import ConfigError

__all__ = ["create_from_spec", "is_registry_spec", "load_model"]


def is_registry_spec(spec: str) -> bool:
    """Whether ``spec`` names a registered model (``NAME`` or ``NAME:key=value,...``) rather than a class
    in a file (``file.py:Class``) or a module (``package.module:Class``)."""
    from cnnlab.nets.registry import list_models

    name, colon, options = spec.partition(":")
    if not colon:
        return True
    if spec.rpartition(":")[0].endswith(".py"):
        return False
    return "=" in options or not options.strip() or name.strip() in list_models()


def create_from_spec(spec: str, **overrides: Any) -> nn.Module:
    """A registered model built from ``NAME[:key=value,...]``; ``overrides`` (num_classes, in_chans,
    checkpoint, ...) win over the spec's own arguments."""
    from cnnlab.nets import registry

    return registry.create_model_from_spec(spec, **overrides)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _module_of(source: str, spec: str):  # noqa: ANN202 - a module
    """The module ``source`` (a ``.py`` file or a dotted name), executed; ConfigError if it fails."""
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            what = "is a folder, not a Python file" if path.is_dir() else "does not exist"
            raise ConfigError(f"model file {source!r} (from {spec!r}) {what}")
        module_spec = importlib.util.spec_from_file_location(path.stem or "model_file", path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"model file {source!r} (from {spec!r}) cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's file: a syntax error, a failing import, anything
            raise ConfigError(f"model file {source!r} (from {spec!r}) could not be run: {_reason(exc)}") from None
        return module
    try:
        return importlib.import_module(source)
    except Exception as exc:  # noqa: BLE001 - ImportError, or the module failing as it runs
        raise ConfigError(f"cannot import module {source!r} (from {spec!r}): {_reason(exc)}") from None


def _from_source(spec: str) -> nn.Module:
    source, _, attr = spec.rpartition(":")
    if not attr.strip():
        raise ConfigError(f"{spec!r} names no class after ':' (expected path/file.py:Class or module:Class)")
    module = _module_of(source, spec)
    factory = getattr(module, attr, None)
    if factory is None:
        raise ConfigError(f"{source!r} has no class {attr!r} (from {spec!r})")
    if not callable(factory):
        raise ConfigError(f"{spec!r} is a {type(factory).__name__}, not a class or function that builds a model")
    try:
        model = factory()
    except Exception as exc:  # noqa: BLE001 - the user's constructor
        raise ConfigError(f"{spec!r} could not be built with no arguments ({_reason(exc)}); cnnlab calls "
                          f"{attr}() itself, so give a class or function whose arguments all have defaults") \
            from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{spec!r} built a {type(model).__name__}, not a torch nn.Module")
    return model


def load_model(spec: str, **overrides: Any) -> nn.Module:
    """The model ``spec`` names, built on the meta device (free at any size: for analysis, not for running).

    ``overrides`` apply to registered specs only.
    """
    import torch

    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"model must be a registered name or path/file.py:Class, got {spec!r}")
    with torch.device("meta"):
        return create_from_spec(spec, **overrides) if is_registry_spec(spec) else _from_source(spec)
