"""The lecture's 13 candidate operations (Zoph et al. 2018, NASNet, Sec. 3) plus ``none``.

Every op maps ``C`` channels to ``C`` channels; with ``stride=2`` it halves the resolution (rounding
up), which is how a reduction cell applies it to the cell's inputs. Convolutions follow NASNet's
ReLU → conv → BN order and are built from :class:`cnnlab.units.ConvNormAct`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.units import ConvNormAct

__all__ = ["OPS", "OP_NAMES", "LECTURE_OPS", "make_op", "FactorizedReduce", "Zero", "ReLUConvBN", "SepConv"]


class Zero(nn.Module):
    """The ``none`` op: a zero map of the output size (NAS spaces use it to drop an edge)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution without dropping pixels: two 1x1 stride-2 convs, the second on the
    input shifted by one pixel, concatenated (NASNet's reduction of the previous-previous input)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        half = out_channels // 2
        self.relu = nn.ReLU()
        self.conv_a = nn.Conv2d(in_channels, half, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(in_channels, out_channels - half, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


class ReLUConvBN(nn.Sequential):
    """ReLU → one or more convs → BN; consecutive kernels (e.g. 1x7 then 7x1) share the stride."""

    def __init__(self, channels: int, kernels: list[tuple[int, int]], stride: int, dilation: int = 1) -> None:
        layers: list[nn.Module] = [nn.ReLU()]
        for i, (kh, kw) in enumerate(kernels):
            sh = stride if kh > 1 or len(kernels) == 1 else 1
            sw = stride if kw > 1 or len(kernels) == 1 else 1
            last = i == len(kernels) - 1
            layers.append(
                ConvNormAct(channels, channels, (kh, kw), stride=(sh, sw), dilation=dilation,
                            norm_layer=nn.BatchNorm2d, act_layer=None if last else nn.ReLU)
            )
        super().__init__(*layers)


class SepConv(nn.Sequential):
    """Depthwise-separable conv applied twice, ReLU → depthwise → pointwise → BN each time
    (NASNet, Zoph et al. 2018, Appendix A.4); only the first depthwise conv carries the stride."""

    def __init__(self, channels: int, kernel_size: int, stride: int) -> None:
        layers: list[nn.Module] = []
        for s in (stride, 1):
            layers += [
                nn.ReLU(),
                ConvNormAct(channels, channels, kernel_size, stride=s, groups=channels,
                            norm_layer=None, act_layer=None),
                ConvNormAct(channels, channels, 1, act_layer=None),
            ]
        super().__init__(*layers)


def _identity(c: int, s: int) -> nn.Module:
    return nn.Identity() if s == 1 else FactorizedReduce(c, c)


def _max_pool(k: int) -> Callable[[int, int], nn.Module]:
    return lambda c, s: nn.MaxPool2d(k, stride=s, padding=k // 2)


# op name -> factory(channels, stride); the order is the lecture's list, then `none`.
OPS: dict[str, Callable[[int, int], nn.Module]] = {
    "identity": _identity,
    "conv_1x7_7x1": lambda c, s: ReLUConvBN(c, [(1, 7), (7, 1)], s),
    "avg_pool_3x3": lambda c, s: nn.AvgPool2d(3, stride=s, padding=1, count_include_pad=False),
    "max_pool_5x5": _max_pool(5),
    "conv_1x1": lambda c, s: ReLUConvBN(c, [(1, 1)], s),
    "sep_conv_3x3": lambda c, s: SepConv(c, 3, s),
    "sep_conv_7x7": lambda c, s: SepConv(c, 7, s),
    "conv_1x3_3x1": lambda c, s: ReLUConvBN(c, [(1, 3), (3, 1)], s),
    "dil_conv_3x3": lambda c, s: ReLUConvBN(c, [(3, 3)], s, dilation=2),
    "max_pool_3x3": _max_pool(3),
    "max_pool_7x7": _max_pool(7),
    "conv_3x3": lambda c, s: ReLUConvBN(c, [(3, 3)], s),
    "sep_conv_5x5": lambda c, s: SepConv(c, 5, s),
    "none": lambda c, s: Zero(s),
}
OP_NAMES: tuple[str, ...] = tuple(OPS)
LECTURE_OPS: tuple[str, ...] = tuple(n for n in OPS if n != "none")


def make_op(name: str, channels: int, stride: int = 1, where: str = "op") -> nn.Module:
    """Build op ``name`` on ``channels`` channels; ``stride`` 1 keeps, 2 halves the resolution."""
    require_choice("op", name, OP_NAMES, where)
    require_positive("channels", channels, where)
    require_choice("stride", stride, (1, 2), where)
    return OPS[name](channels, stride)
