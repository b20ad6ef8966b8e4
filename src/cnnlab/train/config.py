"""``TrainConfig``: every hyper-parameter of a training run, as plain data saved with each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cnnlab.arith.checks import (
    require_choice,
    require_int,
    require_non_negative,
    require_positive,
    require_range,
    require_seed,
)
from cnnlab.errors import ConfigError

__all__ = ["TrainConfig", "OPTIMIZERS", "SCHEDULES", "AMP_MODES", "RESUME_FREE_FIELDS"]

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "constant", "onecycle")
AMP_MODES = ("auto", "off", "fp16", "bf16")
# fields that may change between a run and its resumption without changing the result's meaning
RESUME_FREE_FIELDS = ("device",)
# fields added after runs were recorded: a saved config without one had the default
_ADDED_FIELDS = ("ema_decay", "tta_flip", "crop_padding", "hflip", "resize_schedule")


def _resize_schedule(value: object, epochs: int, where: str) -> tuple[tuple[int, float], ...]:
    """``((first_epoch, scale), ...)`` with first epochs rising within 1..epochs and scales in (0, 1]."""
    try:
        pairs = [tuple(entry) for entry in value]  # type: ignore[union-attr]
    except TypeError:
        pairs = [()]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError(f"{where}: resize_schedule must be pairs (first_epoch, scale), got {value!r}")
    entries = tuple((require_int("resize_schedule first epoch", e, where),
                     require_range("resize_schedule scale", s, 0.0, 1.0, where, low_open=True)) for e, s in pairs)
    previous = 0
    for first, _ in entries:
        if first <= previous or first > epochs:
            raise ConfigError(f"{where}: resize_schedule's first epochs must rise within 1..epochs={epochs}, "
                              f"got {value!r}")
        previous = first
    return tuple((first, float(scale)) for first, scale in entries)


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`cnnlab.train.fit`.

    ``batch_size`` is per process (a run on N processes uses N x batch_size per step). ``lr`` is
    the peak learning rate: linear warm-up over ``warmup_epochs`` (counted in steps), then cosine
    decay to ``min_lr`` (Loshchilov & Hutter 2017, SGDR, without restarts) when
    ``schedule="cosine"``; ``"onecycle"``: the same warm-up, then a linear decay to ``min_lr`` (the
    triangular one-cycle of Smith & Topin 2019, as airbench uses it). ``amp``: "auto" = fp16 autocast + GradScaler on CUDA, full precision on
    CPU; "bf16" = bfloat16 autocast (CPU or CUDA); "fp16" (CUDA only); "off"; True/False are
    "auto"/"off". ``precise_bn_batches``: after each epoch, recompute BatchNorm statistics over
    this many training batches with the final weights (0 = off; see ``cnnlab.train.precise_bn``).
    ``channels_last``: None = on CUDA; on CPU, the layout measured faster for this model and batch
    (``cnnlab.train.layout``; the choice is in the result and the checkpoint). ``device``: "auto" = CUDA
    when available, else CPU; or any torch device string.

    Training tricks (all off by default; ``cnnlab.train.recipes`` names sets of them): ``ema_decay``: an
    exponential moving average of the weights, updated after every optimizer step and used for every
    evaluation (``cnnlab.train.ema``; 0 = off); ``tta_flip``: evaluate on the mean logits of each image and
    its mirror (``cnnlab.train.evaluate.FlipTTA``); ``crop_padding`` / ``hflip``: random crop after
    padding by that many pixels, random horizontal flip of the training batches; ``resize_schedule``:
    progressive resizing, ``((first_epoch, scale), ...)``: from ``first_epoch`` on the training images are
    resized to ``scale`` (in (0, 1]) times the loader's size; the loader's size before the first entry and
    at evaluation (``cnnlab.data.memory``).
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
    ema_decay: float = 0.0
    tta_flip: bool = False
    crop_padding: int = 0
    hflip: bool = False
    resize_schedule: tuple[tuple[int, float], ...] = ()

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
        require_range("ema_decay", self.ema_decay, 0.0, 1.0, where, high_open=True)
        require_choice("tta_flip", self.tta_flip, (False, True), where)
        require_choice("hflip", self.hflip, (False, True), where)
        require_non_negative("crop_padding", self.crop_padding, where)
        self.resize_schedule = _resize_schedule(self.resize_schedule, self.epochs, where)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["resize_schedule"] = [list(entry) for entry in self.resize_schedule]  # JSON has no tuples
        return values

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
        defaults = TrainConfig().to_dict()  # a field an older run did not record had its default
        theirs = {**{k: v for k, v in defaults.items() if k in _ADDED_FIELDS}, **theirs}
        return {
            k: (mine.get(k), theirs.get(k))
            for k in sorted(set(mine) | set(theirs))
            if k not in ignore and mine.get(k) != theirs.get(k)
        }

