"""Convolution → normalisation → activation, the unit every block in cnnlab is built from."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cnnlab.arith.checks import (
    pair,
    require_choice,
    require_divisible,
    require_non_negative,
    require_positive,
)
from cnnlab.errors import ConfigError

__all__ = ["ConvNormAct", "LayerFactory", "check_conv_args"]

# A factory that builds a layer: ``norm_layer(num_channels)`` or ``act_layer()``; None to omit it.
LayerFactory = Callable[..., nn.Module]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_conv_args(
    in_channels: object,
    out_channels: object,
    kernel_size: object,
    stride: object = 1,
    padding: object = 0,
    dilation: object = 1,
    groups: object = 1,
    padding_mode: str = "zeros",
    where: str = "conv",
) -> None:
    """Validate the hyper-parameters of a 2-D convolution; raise ConfigError naming the bad one."""
    cin = require_positive("in_channels", in_channels, where)
    cout = require_positive("out_channels", out_channels, where)
    g = require_positive("groups", groups, where)
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        for v in pair(name, value, where):
            require_positive(name, v, where)
    if not isinstance(padding, str):
        for v in pair("padding", padding, where):
            require_non_negative("padding", v, where)
    else:
        require_choice("padding", padding, ("same", "valid"), where)
        if padding == "same" and pair("stride", stride, where) != (1, 1):
            raise ConfigError(f"{where}: padding='same' needs stride 1 (as in torch), got stride={stride!r}")
    require_choice("padding_mode", padding_mode, PADDING_MODES, where)
    require_divisible("in_channels", cin, "groups", g, where)
    require_divisible("out_channels", cout, "groups", g, where)


class ConvNormAct(nn.Sequential):
    """``Conv2d → norm → act`` with injectable norm and activation (either may be None).

    Children are named ``conv``, ``bn`` and ``act`` so state dicts read like the papers' diagrams.
    ``padding=None`` means "same" for stride 1: ``dilation * (kernel_size - 1) // 2``.
    The conv has no bias when a norm layer follows it (the norm's shift makes it redundant).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | None = None,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool | None = None,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = nn.ReLU,
        padding_mode: str = "zeros",
    ) -> None:
        where = f"ConvNormAct({in_channels}->{out_channels})"
        check_conv_args(
            in_channels, out_channels, kernel_size, stride,
            0 if padding is None else padding, dilation, groups, padding_mode, where,
        )
        if padding is None:
            kh, kw = pair("kernel_size", kernel_size)
            dh, dw = pair("dilation", dilation)
            padding = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
        if bias is None:
            bias = norm_layer is None
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
        )
        if norm_layer is not None:
            self.bn = norm_layer(out_channels)
        if act_layer is not None:
            self.act = act_layer()
