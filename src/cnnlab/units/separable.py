"""Pointwise, depthwise and depthwise-separable convolutions (MobileNet v1, Howard et al. 2017)."""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnlab.arith.checks import require_positive
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory, check_conv_args

__all__ = ["pointwise", "depthwise", "DepthwiseSeparableConv"]


def pointwise(in_channels: int, out_channels: int, groups: int = 1, **kwargs: Any) -> ConvNormAct:
    """A 1x1 conv → norm → act: mixes channels, one pixel at a time (``groups`` for ShuffleNet)."""
    return ConvNormAct(in_channels, out_channels, kernel_size=1, padding=0, groups=groups, **kwargs)


def depthwise(
    channels: int,
    kernel_size: int | tuple[int, int] = 3,
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    channel_multiplier: int = 1,
    **kwargs: Any,
) -> ConvNormAct:
    """A depthwise conv → norm → act: one ``k x k`` filter per channel (``groups = channels``).

    ``channel_multiplier`` filters per input channel give ``channels * channel_multiplier`` outputs.
    Padding defaults to "same" for stride 1 (``dilation * (k - 1) // 2``).
    """
    multiplier = require_positive("channel_multiplier", channel_multiplier, f"depthwise({channels})")
    out_channels = channels * multiplier if isinstance(channels, int) else channels
    return ConvNormAct(
        channels, out_channels, kernel_size, stride=stride, dilation=dilation, groups=channels, **kwargs
    )


class DepthwiseSeparableConv(nn.Sequential):
    """Depthwise ``k x k`` conv → BN → ReLU, then pointwise 1x1 conv → BN → ReLU (MobileNet v1, Fig. 3).

    Costs ``Dk²·M·Df² + M·N·Df²`` MACs instead of ``Dk²·M·N·Df²``: see
    :func:`cnnlab.arith.separable_cost_ratio`. Children: ``depthwise`` and ``pointwise``
    (each a :class:`ConvNormAct`), so the stride sits in the depthwise conv.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        dilation: int | tuple[int, int] = 1,
        norm_layer: LayerFactory | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = nn.ReLU,
    ) -> None:
        where = f"DepthwiseSeparableConv({in_channels}->{out_channels})"
        check_conv_args(in_channels, in_channels, kernel_size, stride, 0, dilation, in_channels, where=where)
        check_conv_args(in_channels, out_channels, 1, where=where)
        super().__init__()
        self.depthwise = depthwise(
            in_channels, kernel_size, stride, dilation, norm_layer=norm_layer, act_layer=act_layer
        )
        self.pointwise = pointwise(in_channels, out_channels, norm_layer=norm_layer, act_layer=act_layer)
