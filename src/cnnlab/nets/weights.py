"""Loading weights into cnnlab networks: cnnlab's own state dicts and other libraries' (keys converted).

Each family registers converters (``torchvision``, ``timm``) that rename a foreign state dict's keys into
cnnlab's; :func:`load_weights` picks the one that fits, validates every key and shape *before* touching
the model, and raises ConfigError listing what does not fit, leaving the model unchanged. (The word
"checkpoint" belongs to training: ``cnnlab.train.checkpoint``; ``create_model(checkpoint=...)`` keeps it as
the user-facing name of the weights to load.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from cnnlab.errors import ConfigError

__all__ = ["Weights", "load_weights", "read_state_dict", "register_converter", "regex_converter", "unreadable_reason"]

StateDict = dict[str, torch.Tensor]
Converter = Callable[[StateDict, nn.Module], StateDict]
Weights = str | os.PathLike[str] | Mapping[str, Any]  # a torch file or a state dict

_CONVERTERS: dict[str, dict[str, Converter]] = {}
_SHOW = 5  # how many offending keys an error message lists


def register_converter(family: str, source: str, converter: Converter) -> None:
    """Make ``converter`` (foreign state dict, model) -> cnnlab state dict available for ``family``."""
    _CONVERTERS.setdefault(family, {})[source] = converter


def regex_converter(rules: list[tuple[str, str | Callable[[re.Match[str]], str]]]) -> Converter:
    """A converter renaming each key by the first rule whose pattern matches it (``re.sub`` replacement)."""
    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]

    def convert(state: StateDict, model: nn.Module) -> StateDict:
        out: StateDict = {}
        for key, value in state.items():
            for pattern, repl in compiled:
                if pattern.search(key):
                    key = pattern.sub(repl, key, count=1)
                    break
            out[key] = value
        return out

    return convert


# the first bytes of what torch.save writes: a zip archive, or (before torch 1.6) a pickled magic number
_TORCH_HEADS = (b"PK\x03\x04", b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19")


def unreadable_reason(path: str | os.PathLike[str], exc: BaseException) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in words for the user. Never relays torch's advice
    to retry with ``weights_only=False``: that would run code from the file (a planted state file)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_TORCH_HEADS[1]))
    except OSError as err:
        return err.strerror or type(err).__name__
    if not head:
        return "the file is empty"
    if not head.startswith(_TORCH_HEADS):
        return "it is not a torch file (neither the zip archive torch.save writes nor torch's legacy format)"
    text = str(exc).strip()
    if "weights only load failed" in text.lower() or "weights_only" in text:
        return ("it holds Python objects other than tensors, numbers, strings and containers of them; cnnlab "
                "does not unpickle those (weights_only=True: that would run code from the file). Save the "
                "weights as a state dict (model.state_dict())")
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.split(". This is an internal miniz error")[0]  # a truncated or corrupt archive


def read_state_dict(weights: Weights) -> StateDict:
    """A state dict from a path (``torch.load(weights_only=True)``) or a mapping; unwraps
    ``{"state_dict": ...}`` / ``{"model": ...}`` and DistributedDataParallel's ``module.`` prefix."""
    if isinstance(weights, (str, os.PathLike)):
        if os.path.isdir(weights):
            raise ConfigError(f"weights file {os.fspath(weights)!r} is a folder; give the torch file in it")
        if not os.path.isfile(weights):
            raise ConfigError(f"weights file {os.fspath(weights)!r} does not exist")
        try:
            loaded = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - unpickling, zip and I/O errors of every kind
            raise ConfigError(f"weights file {os.fspath(weights)!r} could not be read as a torch file: "
                              f"{unreadable_reason(weights, exc)}") from None
    else:
        loaded = weights
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"weights must be a state dict (a mapping of names to tensors), got "
                          f"{type(loaded).__name__}")
    for wrapper in ("state_dict", "model", "model_state_dict"):
        inner = loaded.get(wrapper)
        if isinstance(inner, Mapping) and not isinstance(inner, torch.Tensor):
            loaded = inner
            break
    state: StateDict = {}
    for key, value in loaded.items():
        if not isinstance(value, torch.Tensor):
            raise ConfigError(f"weights entry {key!r} is a {type(value).__name__}, not a tensor")
        state[key[7:] if str(key).startswith("module.") else str(key)] = value
    return state


def _problems(state: StateDict, model: nn.Module) -> tuple[list[str], list[str], list[str]]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: weights {tuple(state[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    return missing, unexpected, shapes


def load_weights(model: nn.Module, weights: Weights, family: str | None = None) -> str:
    """Load ``weights`` into ``model`` strictly; return which key format they were in ("cnnlab", ...).

    A model built under ``torch.device("meta")`` receives the tensors without copying, which skips the
    random initialisation of large networks.
    """
    state = read_state_dict(weights)
    candidates: list[tuple[str, StateDict]] = [("cnnlab", state)]
    for source, convert in _CONVERTERS.get(family or "", {}).items():
        candidates.append((source, convert(state, model)))
    best = None
    for source, converted in candidates:
        missing, unexpected, shapes = _problems(converted, model)
        score = len(missing) + len(unexpected) + len(shapes)
        if score == 0:
            # a model built on the meta device takes the tensors as they are (fast loading)
            on_meta = any(t.is_meta for t in model.state_dict().values())
            with torch.no_grad():
                model.load_state_dict(converted, strict=True, assign=on_meta)
            return source
        if best is None or score < best[0]:
            best = (score, source, missing, unexpected, shapes)
    assert best is not None
    _, source, missing, unexpected, shapes = best
    lines = [f"weights do not fit {type(model).__name__} (closest key format: {source}); "
             "the model was left unchanged"]
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
        if keys:
            more = f" … and {len(keys) - _SHOW} more" if len(keys) > _SHOW else ""
            lines.append(f"  {label} ({len(keys)}): {', '.join(keys[:_SHOW])}{more}")
    if shapes and all(".fc." in s or s.startswith("head.") for s in shapes):
        lines.append("  (only the classifier differs: build with the weights' num_classes, load, then "
                     "call reset_classifier(n))")
    raise ConfigError("\n".join(lines))
