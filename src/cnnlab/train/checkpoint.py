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
    "CHECKPOINT_NAME",
    "save_checkpoint",
    "load_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
]

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save(state)`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ConfigError(f"cannot read checkpoint {path}: {exc}") from None


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
