"""Checkpoints written atomically (temp file in the same folder + ``os.replace``) and RNG state capture.

A reader never sees a half-written file: either the previous checkpoint or the new one. Everything
stored is plain data or tensors, so checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "save_checkpoint",
    "load_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
    "state_dict_mismatch",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1  # the "format" entry of a training checkpoint


def _save_to(state: dict[str, Any], tmp: Path) -> None:
    # through a Python file object, so that a full disk raises OSError(ENOSPC) rather than torch's
    # RuntimeError from its own writer ("unexpected pos ...")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save(state)`` to ``path`` atomically; a failed write (read-only, full disk) is a ConfigError."""
    try:
        atomic_write(path, lambda tmp: _save_to(state, tmp))
    except OSError as exc:
        raise ConfigError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, read with ``weights_only=True``. A file that is not one (random
    bytes, a truncated file, a pickle of arbitrary objects) is a ConfigError saying so; torch's own
    advice to retry with ``weights_only=False`` is not passed on, since that would run the file's code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise ConfigError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways (UnpicklingError, EOFError, KeyError, ...)
        raise ConfigError(
            f"{path} is not a cnnlab checkpoint ({type(exc).__name__} while reading it as tensors and plain data); "
            "pass --overwrite (overwrite=True) to start a fresh run there"
        ) from None
    if not isinstance(state, dict):
        raise ConfigError(f"{path} is not a cnnlab checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def _listed(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def state_dict_mismatch(model: torch.nn.Module, saved: dict[str, Any]) -> str:
    """Why ``saved`` does not load into ``model``: missing and unexpected keys, shape mismatches ("" if none)."""
    own = model.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [f"{k} {tuple(saved[k].shape)} in the checkpoint, {tuple(own[k].shape)} in the model"
              for k in own if k in saved and isinstance(saved[k], torch.Tensor) and saved[k].shape != own[k].shape]
    parts = [f"{label} ({len(keys)}): {_listed(keys)}" for label, keys in
             (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)) if keys]
    return "; ".join(parts)


def capture_rng_state(data_generator: torch.Generator | None = None) -> dict[str, Any]:
    """torch (CPU and CUDA), numpy and python RNG states as plain data."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": json.dumps([py_state[0], list(py_state[1]), py_state[2]]),
    }  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if data_generator is not None:
        state["data"] = data_generator.get_state()
    return state


def restore_rng_state(state: dict[str, Any], data_generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state((np_state["name"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["gauss"]))  # fmt: skip
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "data" in state and data_generator is not None:
        data_generator.set_state(state["data"])
