"""The protocol every cnnlab network follows, and the pieces the family builders share.

A network is ``stem`` → ``stages`` (an ``nn.Sequential`` of stages, each an ``nn.Sequential`` of blocks) →
``head``; ``stage_specs`` is the plain-data table it was built from, ``feature_info`` one dict per stage,
read from the :class:`StageStack` the builder filled (each stage with its channels and cumulative stride).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from cnnlab.arith.checks import require_non_negative, require_positive, require_probability, require_range
from cnnlab.arith.sizes import conv_output_size
from cnnlab.blocks._common import check_norm_act
from cnnlab.errors import ConfigError

__all__ = [
    "ClassifierHead",
    "FeatureExtractor",
    "StageStack",
    "ZooNet",
    "check_drop_rate",
    "init_weights",
    "make_divisible",
    "min_input_size",
    "repeated_stage",
]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never more than 10% down
    (MobileNet V2's rounding of width-multiplied layers, as in TF-slim and torchvision)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def check_drop_rate(value: object, where: str) -> float:
    """A dropout rate before the classifier: a number in [0, 1)."""
    return require_probability("drop_rate", value, where)


def check_multiplier(name: str, value: object, where: str) -> float:
    """A width multiplier or scale: a number in (0, 16]."""
    return require_range(name, value, 0.0, 16.0, where, low_open=True)


def min_input_size(ops: Sequence[tuple[int, int, int, bool]], limit: int = 4096) -> int:
    """Smallest square input for which every spatial op of a chain gives an output of size ≥ 1.

    ``ops``: ``(kernel, stride, padding, ceil_mode)`` of the ops on the network's main path, in order; each
    op's output size is :func:`cnnlab.arith.sizes.conv_output_size` (torch's formula, its ceil-mode rule).
    """
    for size in range(1, limit + 1):
        n = size
        try:
            for kernel, stride, padding, ceil_mode in ops:
                n = conv_output_size(n, kernel, padding, stride, 1, ceil_mode)
        except ConfigError:  # the window does not fit: this size is too small
            continue
        return size
    raise ConfigError(f"no input size up to {limit} fits this network")


def init_weights(model: nn.Module) -> None:
    """He (fan-out) init for convs, BN to identity, small normal for linears (as torchvision's ResNet)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


class ClassifierHead(nn.Module):
    """[1x1 conv →] global average pool → dropout → linear. ``num_classes=0`` gives pooled features.

    Children: ``conv`` (optional), ``pool``, ``drop``, ``fc``.
    """

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0,
                 conv: nn.Module | None = None, conv_features: int | None = None) -> None:
        super().__init__()
        self.conv = conv
        if conv is not None:
            in_features = conv_features or in_features
        self.num_features = in_features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(drop_rate)
        self.reset(num_classes)

    def reset(self, num_classes: int) -> None:
        self.num_classes = require_non_negative("num_classes", num_classes, "classifier head")
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        x = torch.flatten(self.pool(x), 1)
        x = self.drop(x)
        return x if pre_logits else self.fc(x)


class StageStack:
    """The stages of a network as its builder adds them, each with its output channels and the cumulative
    stride at its output (the stem's stride times every stage's so far). ``feature_info`` is read from
    here, so no builder collects it by hand; tests check it against what ``features_only`` returns."""

    def __init__(self, in_channels: int, stride: int = 1) -> None:
        """``in_channels`` and ``stride``: the stem's output channels and its total stride."""
        self.sequential = nn.Sequential()
        self.channels = int(in_channels)  # output channels of the last stage added (the stem's before any)
        self.reduction = int(stride)  # cumulative stride at that output
        self._info: list[dict[str, Any]] = []

    def add(self, stage: nn.Module, out_channels: int, stride: int = 1) -> nn.Module:
        """Append ``stage`` (input: the previous stage's output) with its output channels and own stride."""
        index = len(self.sequential)
        self.sequential.add_module(str(index), stage)
        self.channels, self.reduction = int(out_channels), self.reduction * int(stride)
        self._info.append({"num_chs": self.channels, "reduction": self.reduction, "module": f"stages.{index}"})
        return stage

    def add_repeated(self, make_block: Callable[[int, int, int], nn.Module], out_channels: int, depth: int,
                     stride: int) -> nn.Sequential:
        """Append a :func:`repeated_stage` that starts from the last stage's channels."""
        stage = repeated_stage(make_block, self.channels, out_channels, depth, stride)
        self.add(stage, out_channels, stride)
        return stage

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """One ``{"num_chs", "reduction", "module"}`` per stage, in order."""
        return [dict(info) for info in self._info]


class ZooNet(nn.Module):
    """stem → stages → head, with the contract of docs/architecture.md ("Networks").

    ``model_name``: the registered name, set by ``create_model`` (None when the class is built directly);
    ``model_spec``: the spec with its builder arguments (``"resnet18:stem_width=32"``), set by
    ``create_model_from_spec``. Training checkpoints record both, so ``cnnlab export RUN/checkpoint.pt``
    knows what to build.
    """

    model_name: str | None = None
    model_spec: str | None = None

    def __init__(self, stem: nn.Module, stages: StageStack, head: nn.Module, *,
                 stage_specs: Sequence[Any], in_chans: int, min_size: int = 1) -> None:
        if not isinstance(stages, StageStack):
            raise TypeError(f"ZooNet takes its stages as a StageStack (channels and strides recorded), "
                            f"got {type(stages).__name__}")
        super().__init__()
        self.stem = stem
        self.stages = stages.sequential
        self.head = head
        self.stage_specs = list(stage_specs)
        self.feature_info = stages.feature_info
        self.in_chans = in_chans
        self.min_input_size = min_size

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    @property
    def num_features(self) -> int:
        return self.head.num_features

    def reset_classifier(self, num_classes: int) -> None:
        self.head.reset(num_classes)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ConfigError for a batch of the wrong rank, channel count or a too small image."""
        if x.dim() != 4:
            raise ConfigError(f"{type(self).__name__}: input must be (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_chans:
            raise ConfigError(f"{type(self).__name__}: built for in_chans={self.in_chans}, "
                              f"got an input with {x.shape[1]} channels")
        if min(x.shape[-2:]) < self.min_input_size:
            raise ConfigError(f"{type(self).__name__}: input {tuple(x.shape[-2:])} is smaller than the "
                              f"minimum {self.min_input_size}x{self.min_input_size} this network accepts")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor):  # not while torch.fx traces with proxies
            self.check_input(x)
        try:
            return self.stages(self.stem(x))
        except ValueError as err:  # BatchNorm's refusal, named in the user's terms
            if self.training and "more than 1 value per channel" in str(err):
                raise ConfigError(
                    f"{type(self).__name__}: in training mode a batch of {x.shape[0]} at {tuple(x.shape[-2:])} "
                    "leaves a BatchNorm layer one value per channel; train on a batch of 2 or more, "
                    "a larger input, or call model.eval()"
                ) from None
            raise

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class FeatureExtractor(nn.Module):
    """``features_only=True``: returns the list of every stage's output; keeps ``feature_info``."""

    model_name: str | None = None
    model_spec: str | None = None

    def __init__(self, model: ZooNet) -> None:
        super().__init__()
        self.model_name = model.model_name
        self.model_spec = model.model_spec
        self.stem = model.stem
        self.stages = model.stages
        self.feature_info = model.feature_info
        self.stage_specs = model.stage_specs
        self.in_chans = model.in_chans
        self.min_input_size = model.min_input_size
        self._check = model.check_input

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if isinstance(x, torch.Tensor):
            self._check(x)
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def check_common(where: str, num_classes: object, in_chans: object, drop_rate: object,
                 norm_layer: object = None, act_layer: object = None) -> None:
    """Validate the arguments every builder takes (``norm_layer`` / ``act_layer``: factories or None)."""
    require_non_negative("num_classes", num_classes, where)
    require_positive("in_chans", in_chans, where)
    check_drop_rate(drop_rate, where)
    check_norm_act(where, norm_layer, act_layer)


def repeated_stage(make_block: Callable[[int, int, int], nn.Module], in_channels: int, out_channels: int,
                   depth: int, stride: int) -> nn.Sequential:
    """A stage as the papers' tables read: ``depth`` blocks, ``make_block(index, in_channels, stride)``; the
    first block takes ``in_channels`` and ``stride``, the others ``out_channels`` and stride 1."""
    return nn.Sequential(*(make_block(j, in_channels if j == 0 else out_channels, stride if j == 0 else 1)
                           for j in range(depth)))
