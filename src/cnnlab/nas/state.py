"""A search worker's resumable state, stored without pickle.

The file is a ``torch.save`` of ``{"format", "json", "tensors"}``: the tensors (controller weights,
Adam moments, generator state) in a flat dict, everything else (random state, population, trial
numbers) as one JSON string in which a tensor appears as ``{"__tensor__": key}``. It is read with
``torch.load(weights_only=True)``, whose unpickler builds only tensors and plain containers, so a
planted or corrupt file can raise an error but never run code. A file that cannot be read raises
:class:`cnnlab.ConfigError` naming it.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from cnnlab.atomic import atomic_write_bytes
from cnnlab.errors import ConfigError

__all__ = ["STATE_FORMAT", "save_state", "load_state"]

STATE_FORMAT = "cnnlab-nas-state/1"
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().clone()
        return {_TENSOR: key}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        # int keys (an optimizer's per-parameter state) survive as [key, value] pairs
        return {_ITEMS: [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"search state cannot store a {type(value).__name__}")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if set(value) == {_TENSOR}:
            return tensors[value[_TENSOR]]
        if set(value) == {_TUPLE}:
            return tuple(_decode(v, tensors) for v in value[_TUPLE])
        if set(value) == {_ITEMS}:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in value[_ITEMS]}
        return {k: _decode(v, tensors) for k, v in value.items()}
    return value


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (plain data and tensors) atomically. It is serialised in memory first, so a
    full disk is an ``OSError`` from the write (torch's own writer reports it as a RuntimeError)."""
    tensors: dict[str, torch.Tensor] = {}
    payload = {"format": STATE_FORMAT, "json": json.dumps(_encode(state, tensors)), "tensors": tensors}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a state written by :func:`save_state`; ConfigError when the file is not one."""
    where = f"search state file {str(path)!r}"
    way_out = "delete it to restart this worker's strategy (the study keeps every completed trial)"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, random bytes, or a pickle that wants to build other objects
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{where} cannot be read ({reason[:200]}); {way_out}") from None
    if isinstance(payload, dict) and "format" not in payload and {"strategy", "observed"} <= set(payload):
        return payload  # written by cnnlab before this format; it loaded under weights_only=True
    if not (isinstance(payload, dict) and payload.get("format") == STATE_FORMAT
            and isinstance(payload.get("json"), str) and isinstance(payload.get("tensors"), dict)):
        raise ConfigError(f"{where} is not a cnnlab search state ({STATE_FORMAT}); {way_out}")
    try:
        return _decode(json.loads(payload["json"]), payload["tensors"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{where} is damaged ({exc}); {way_out}") from None
