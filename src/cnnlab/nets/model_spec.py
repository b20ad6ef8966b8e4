"""Model specs: a registered name with builder arguments in one string, ``NAME[:key=value,...]``.

``nasnet:genotype=runs/best.json,C=8,N=1`` is ``create_model("nasnet", genotype="runs/best.json", C=8, N=1)``;
every command that takes a model reads it through :func:`cnnlab.nets.registry.create_model_from_spec`.
"""

from __future__ import annotations

import ast
from typing import Any

from cnnlab.errors import ConfigError

__all__ = ["parse_model_spec", "parse_spec_value", "split_model_spec"]

_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _split_items(options: str, spec: str) -> list[str]:
    """Split at commas outside brackets and quotes: ``depths=(2, 2),C=8`` is two items."""
    items, depth, quote, start = [], [], "", 0
    for i, ch in enumerate(options):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _PAIRS:
            depth.append(_PAIRS[ch])
        elif ch in _PAIRS.values():
            if not depth or depth.pop() != ch:
                raise ConfigError(f"model spec {spec!r}: unbalanced {ch!r}")
        elif ch == "," and not depth:
            items.append(options[start:i])
            start = i + 1
    if depth or quote:
        raise ConfigError(f"model spec {spec!r}: unclosed {(quote or depth[-1])!r}")
    items.append(options[start:])
    return [item.strip() for item in items if item.strip()]


def parse_spec_value(text: str, key: str = "value", spec: str = "") -> Any:
    """``3`` → 3, ``0.5`` → 0.5, ``true``/``false`` → bool, ``none`` → None, ``(2, 2)`` / ``[1, 2]`` /
    ``'a,b'`` → the Python literal; anything else is the string itself (a path, a name)."""
    value = text.strip()
    if not value:
        raise ConfigError(f"model spec {spec!r}: {key}= has no value")
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    if value[0] in "([{'\"":
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ConfigError(f"model spec {spec!r}: {key}={value} is not a Python literal "
                              "(a number, a quoted string, or a tuple / list of them)") from None
    return value


def split_model_spec(spec: object) -> tuple[str, list[tuple[str, str]]]:
    """``NAME[:key=value,...]`` → the name and its ``(key, value text)`` pairs, values not yet parsed.

    A ConfigError names the bad part: an empty name, an item without ``=``, a key that is not an identifier,
    a key given twice.
    """
    if not isinstance(spec, str):
        raise ConfigError(f"a model spec must be a string NAME[:key=value,...], got {spec!r}")
    name, _, options = spec.partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(f"model spec {spec!r} names no model (expected NAME[:key=value,...])")
    pairs: list[tuple[str, str]] = []
    for item in _split_items(options, spec):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"model spec {spec!r}: {item!r} is not key=value")
        if not key.isidentifier():
            raise ConfigError(f"model spec {spec!r}: {key!r} (in {item!r}) is not an argument name")
        if any(key == k for k, _ in pairs):
            raise ConfigError(f"model spec {spec!r}: {key} is given twice")
        pairs.append((key, value.strip()))
    return name, pairs


def parse_model_spec(spec: object) -> tuple[str, dict[str, Any]]:
    """Split ``NAME[:key=value,...]`` into the registered name and its builder arguments (values parsed by
    :func:`parse_spec_value`); a ConfigError names the bad key or value."""
    name, pairs = split_model_spec(spec)
    return name, {key: parse_spec_value(value, key, str(spec)) for key, value in pairs}
