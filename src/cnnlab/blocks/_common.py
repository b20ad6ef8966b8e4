"""Defaults and checks shared by the blocks: default layers and knob validation."""

from __future__ import annotations

from functools import partial

from torch import nn

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.errors import ConfigError

__all__ = ["ReLU", "ReLU6", "check_block_args", "check_norm_act"]

# torchvision's blocks use in-place ReLUs; so do ours (same memory traffic, same speed).
ReLU = partial(nn.ReLU, inplace=True)
ReLU6 = partial(nn.ReLU6, inplace=True)


def check_block_args(
    where: str, in_channels: object, out_channels: object, stride: object, strides: tuple[int, ...] = (1, 2),
    norm_layer: object = None, act_layer: object = None,
) -> tuple[int, int, int]:
    """Validate the arguments every block takes (channels, stride, norm / act factories); return
    ``(in_channels, out_channels, stride)`` as ints."""
    cin = require_positive("in_channels", in_channels, where)
    cout = require_positive("out_channels", out_channels, where)
    s = require_positive("stride", stride, where)
    require_choice("stride", s, strides, where)
    check_norm_act(where, norm_layer, act_layer)
    return cin, cout, s


def check_norm_act(where: str, norm_layer: object, act_layer: object) -> None:
    """norm_layer / act_layer must be factories (a class or callable) or None."""
    for name, value in (("norm_layer", norm_layer), ("act_layer", act_layer)):
        if value is not None and not callable(value):
            raise ConfigError(f"{where}: {name} must be a layer factory (e.g. nn.BatchNorm2d) or None, got {value!r}")
