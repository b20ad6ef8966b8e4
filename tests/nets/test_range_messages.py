"""Range checks of the MobileNet builders, the inverted residual and Upsample go through
``cnnlab.arith.checks.require_range``: one house message (the value, the interval, where), NaN and ±inf
refused like any value out of range (they used to slip through to an OverflowError, a ValueError or torch)."""

from __future__ import annotations

import math

import pytest
import torch

from cnnlab import ConfigError
from cnnlab.arith.checks import require_range
from cnnlab.blocks.mobilenet import InvertedResidual
from cnnlab.nets.mobilenet import MOBILENET_V2_TABLE, MobileNetStage, build_mobilenet_v2
from cnnlab.units.upsample import Upsample, upsample


def house_message(name, value, low, where, low_open=False):
    with pytest.raises(ConfigError) as err:
        require_range(name, value, low, None, where, low_open=low_open)
    return str(err.value)


def message_of(build):
    with pytest.raises(ConfigError) as err:
        build()
    return str(err.value)


@pytest.mark.parametrize("ratio", [0.5, 0, -1, math.nan, math.inf, "6", True])
def test_expand_ratio(ratio):
    where = "InvertedResidual(8->8)"
    assert message_of(lambda: InvertedResidual(8, 8, expand_ratio=ratio)) == house_message(
        "expand_ratio", ratio, 1.0, where)


@pytest.mark.parametrize("t", [0.5, math.nan, math.inf])
def test_mobilenet_v2_expansion(t):
    table = [MOBILENET_V2_TABLE[0], MobileNetStage(t, 24, 1, 2)]
    with torch.device("meta"):
        got = message_of(lambda: build_mobilenet_v2(stage_table=table, num_classes=10))
    assert got == house_message("expansion t", t, 1.0, "build_mobilenet_v2 stage_table[1]")


@pytest.mark.parametrize("factor", [0, -2, math.nan, math.inf, (2, 0), (2, math.nan), "2"])
def test_upsample_scale_factor(factor):
    bad = next(f for f in (factor if isinstance(factor, tuple) else (factor,))
               if isinstance(f, str) or not (math.isfinite(f) and f > 0))
    assert message_of(lambda: Upsample(scale_factor=factor)) == house_message(
        "scale_factor", bad, 0.0, "Upsample(mode='nearest')", low_open=True)
    assert message_of(lambda: upsample(torch.zeros(1, 1, 2, 2), scale_factor=factor)) == house_message(
        "scale_factor", bad, 0.0, "upsample(mode='nearest')", low_open=True)


def test_valid_values_still_build_what_torch_builds():
    """Inside the range nothing changes: torch's own nn.Upsample gives the same map."""
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    torch.testing.assert_close(Upsample(scale_factor=(2, 1.5))(x), torch.nn.Upsample(scale_factor=(2, 1.5))(x))
    assert InvertedResidual(8, 8, expand_ratio=1).has_expand is False
