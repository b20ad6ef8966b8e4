"""``TrainConfig``: every hyper-parameter of a training run, as plain data saved with each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cnnlab.arith.checks import (
    require_choice,
    require_non_negative,
    require_positive,
    require_range,
    require_seed,
)
from cnnlab.errors import ConfigError

__all__ = ["TrainConfig", "OPTIMIZERS", "SCHEDULES", "AMP_MODES", "RESUME_FREE_FIELDS"]

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "constant")
AMP_MODES = ("auto", "off", "fp16", "bf16")
# fields that may change between a run and its resumption without changing the result's meaning
RESUME_FREE_FIELDS = ("device",)


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`cnnlab.train.fit`.

    ``batch_size`` is per process (a run on N processes uses N x batch_size per step). ``lr`` is
    the peak learning rate: linear warm-up over ``warmup_epochs`` (counted in steps), then cosine
    decay to ``min_lr`` (Loshchilov & Hutter 2017, SGDR, without restarts) when
    ``schedule="cosine"``. ``amp``: "auto" = fp16 autocast + GradScaler on CUDA, full precision on
    CPU; "bf16" = bfloat16 autocast (CPU or CUDA); "fp16" (CUDA only); "off"; True/False are
    "auto"/"off". ``precise_bn_batches``: after each epoch, recompute BatchNorm statistics over
    this many training batches with the final weights (0 = off; see ``cnnlab.train.precise_bn``).
    ``channels_last``: None = on CUDA; on CPU, the layout measured faster for this model and batch
    (``cnnlab.train.layout``; the choice is in the result and the checkpoint). ``device``: "auto" = CUDA
    when available, else CPU; or any torch device string.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    label_smoothing: float = 0.0
    grad_clip_norm: float | None = None
    precise_bn_batches: int = 0
    amp: str = "auto"
    channels_last: bool | None = None
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        where = "TrainConfig"
        if isinstance(self.amp, bool):
            self.amp = "auto" if self.amp else "off"
        require_positive("epochs", self.epochs, where)
        require_positive("batch_size", self.batch_size, where)
        require_seed("seed", self.seed, where)
        require_non_negative("precise_bn_batches", self.precise_bn_batches, where)
        require_choice("optimizer", self.optimizer, OPTIMIZERS, where)
        require_choice("schedule", self.schedule, SCHEDULES, where)
        require_choice("amp", self.amp, AMP_MODES, where)
        require_choice("nesterov", self.nesterov, (False, True), where)
        require_choice("channels_last", self.channels_last, (None, False, True), where)
        if not isinstance(self.device, str):
            raise ConfigError(f"{where}: device must be a string such as 'cpu' or 'cuda:0', got {self.device!r}")
        # every float is finite (NaN or inf would train and write NaN metrics) and in its range
        require_range("lr", self.lr, 0.0, None, where, low_open=True)
        require_range("momentum", self.momentum, 0.0, 1.0, where)
        require_range("weight_decay", self.weight_decay, 0.0, None, where)
        require_range("warmup_epochs", self.warmup_epochs, 0.0, float(self.epochs), where)
        require_range("min_lr", self.min_lr, 0.0, self.lr, where)
        require_range("label_smoothing", self.label_smoothing, 0.0, 1.0, where)
        if self.grad_clip_norm is not None:
            require_range("grad_clip_norm", self.grad_clip_norm, 0.0, None, where, low_open=True)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild a config; unknown keys are a ConfigError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown TrainConfig fields {unknown}")
        return cls(**values)

    def differences(self, other: TrainConfig | dict[str, Any], ignore=RESUME_FREE_FIELDS) -> dict[str, tuple]:
        """``{field: (this value, other value)}`` for every field that differs."""
        theirs = other.to_dict() if isinstance(other, TrainConfig) else dict(other)
        mine = self.to_dict()
        return {
            k: (mine.get(k), theirs.get(k))
            for k in sorted(set(mine) | set(theirs))
            if k not in ignore and mine.get(k) != theirs.get(k)
        }

