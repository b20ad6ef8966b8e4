"""What :func:`cnnlab.train.fit` does with a run folder that already holds a run.

The same configuration resumes (a finished run trains nothing); another configuration — other
hyper-parameters, another model, other data, another number of processes — is a ConfigError that
names every difference with both values, so nothing trained is ever overwritten by accident.
``overwrite=True`` (``cnnlab train --overwrite``) deletes the run's files and starts afresh;
``resume=True`` (``--resume``) insists on a checkpoint to continue from.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from cnnlab.train.config import TrainConfig
from cnnlab.train.run_files import RunFiles

__all__ = ["run_identity", "open_run", "checkpoint_bytes"]

WAY_OUT = "pass --overwrite (overwrite=True) to replace it, or choose another --out (out_dir)"


def run_identity(model: nn.Module, bundle: Any) -> dict[str, Any]:
    """What the run trains on, besides its TrainConfig: the model (registered name or class, the spec it was
    built from, parameter count) and the data (name, input size, classes and the number of images of each split)."""
    return {
        "model": getattr(model, "model_name", None) or type(model).__name__,
        "model_spec": getattr(model, "model_spec", None),  # builder arguments that keep the parameter count
        "params": sum(p.numel() for p in model.parameters()),
        "data": bundle.name,
        "image_size": list(bundle.image_size),
        "in_chans": bundle.in_chans,
        "num_classes": bundle.num_classes,
        "train_images": len(bundle.train.dataset),
        "val_images": 0 if bundle.val is None else len(bundle.val.dataset),
        "test_images": 0 if bundle.test is None else len(bundle.test.dataset),
    }


def _differences(config: TrainConfig, identity: dict[str, Any], world_size: int, saved: dict[str, Any]
                 ) -> dict[str, tuple[Any, Any]]:  # fmt: skip
    """``{key: (value in the folder, value now)}``; keys an older run did not record are not compared."""
    diff = {k: (then, now) for k, (now, then) in config.differences(saved.get("config", {})).items()}
    for key, then in (saved.get("identity") or {}).items():
        if identity.get(key) != then:
            diff[key] = (then, identity.get(key))
    if saved.get("world_size", 1) != world_size:
        diff["world_size (processes)"] = (saved.get("world_size", 1), world_size)
    return diff


def open_run(files: RunFiles, config: TrainConfig, identity: dict[str, Any], world_size: int,
             resume: bool, overwrite: bool, removes: bool = True) -> dict[str, Any] | None:  # fmt: skip
    """The checkpoint to continue from (None: start at epoch 1), after checking the folder's run is this one.

    ``removes``: whether this process deletes the files on ``overwrite`` (only the main one does).
    """
    if files.root.exists() and not files.root.is_dir():
        raise ConfigError(f"run folder {files.root} is an existing file, not a folder; choose another --out")
    if overwrite:
        if removes:
            files.remove_run()
        return None
    if not files.holds_run():
        if resume:
            raise ConfigError(f"nothing to resume: {files.root} holds no run ({files.checkpoint.name} not found); "
                              "leave out --resume (resume=True) to start a fresh run")
        return None
    state = load_checkpoint(files.checkpoint) if files.checkpoint.is_file() else None
    if state is not None and state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{files.checkpoint} is not a cnnlab training checkpoint (format {state.get('format')!r}); "
                          f"{WAY_OUT}")
    saved = state if state is not None else files.read_config() or {}
    diff = _differences(config, identity, world_size, saved)
    if diff:
        listed = "; ".join(f"{key}: run {then!r}, now {now!r}" for key, (then, now) in diff.items())
        raise ConfigError(f"{files.root} holds a run with another configuration ({listed}); {WAY_OUT}")
    if state is None and resume:
        raise ConfigError(f"nothing to resume: the run in {files.root} stopped before its first checkpoint; "
                          "leave out --resume (resume=True) to start it again")
    return state


def checkpoint_bytes(model: nn.Module, config: TrainConfig) -> int:
    """About the size of one checkpoint: the model's state, the optimizer's per-parameter slots (SGD's
    momentum, AdamW's two moments), 512 bytes of zip entry and pickle per tensor, and 64 KiB for the
    RNG states and the history."""
    tensors = list(model.state_dict().values())
    params = [p for p in model.parameters() if p.requires_grad]
    slots = 2 if config.optimizer == "adamw" else int(config.momentum > 0)
    data = sum(t.numel() * t.element_size() for t in tensors) + slots * sum(p.numel() * p.element_size() for p in params)
    return data + 512 * (len(tensors) + slots * len(params)) + 2**16
