"""TrainConfig refuses every value that would train nonsense: NaN / inf floats, values out of range, seeds
numpy cannot take — with a ConfigError naming the field, before any step is taken."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnlab.errors import ConfigError
from cnnlab.train import TrainConfig

FLOAT_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if str(f.type) in ("float", "float | None")]


def test_every_float_field_is_checked():
    assert set(FLOAT_FIELDS) == {"lr", "momentum", "weight_decay", "warmup_epochs", "min_lr", "label_smoothing",
                                 "grad_clip_norm", "ema_decay"}  # fmt: skip


@pytest.mark.parametrize("name", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(name, value):
    with pytest.raises(ConfigError, match=f"TrainConfig: {name} must be a finite number"):
        TrainConfig(**{name: value})


@pytest.mark.parametrize("name, value", [
    ("lr", 0.0), ("lr", -0.1), ("momentum", 1.5), ("weight_decay", -1e-4), ("warmup_epochs", 11.0),
    ("min_lr", 0.06), ("label_smoothing", -0.1), ("grad_clip_norm", 0.0), ("lr", True), ("momentum", "0.9"),
])  # fmt: skip
def test_out_of_range_values_name_the_field(name, value):
    with pytest.raises(ConfigError, match=f"TrainConfig: {name} must be"):
        TrainConfig(**{name: value})


@given(st.integers())
def test_seeds_numpy_can_take_and_only_those(seed):
    fits = 0 <= seed <= 2**32 - 1
    if fits:
        assert TrainConfig(seed=seed).seed == seed
        np.random.seed(seed)  # the trainer seeds numpy with it
    else:
        with pytest.raises(ConfigError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
            TrainConfig(seed=seed)
