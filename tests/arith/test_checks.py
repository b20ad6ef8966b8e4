"""Validators shared by every layer: shapes (inspect, the receptive-field probe, ONNX export), numeric
ranges (training configs, dropout, width multipliers) and seeds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnlab.arith.checks import SEED_MAX, require_probability, require_range, require_seed, require_shape
from cnnlab.errors import ConfigError


def test_a_shape_from_a_sequence_or_text():
    assert require_shape("input", (1, 3, 224, 224)) == (1, 3, 224, 224)
    assert require_shape("input", " 2X3x32x32 ") == (2, 3, 32, 32)
    assert require_shape("input", [7]) == (7,)


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        ("1x3xfoo", {}, "input must look like 1x3x224x224.*'1x3xfoo'"),
        ([], {}, "at least 1 dimension.*\\[\\]"),
        ((1, 0, 4), {}, "input\\[1\\] must be ≥ 1, got 0"),
        ((1, 2.5), {}, "input\\[1\\] must be an integer, got 2.5"),
        ((8,), {"min_dims": 2}, "at least 2 dimension.*\\(8,\\)"),
        ("1x3x4x4", {"text": False}, "must be a shape.*'1x3x4x4'"),
    ],
)
def test_a_bad_shape_names_the_value(value, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        require_shape("input", value, **kwargs)


# require_range: one validator for every "a number in an interval" rule (learning rates, probabilities,
# width multipliers, fractions); NaN and inf are never numbers in a range.
@pytest.mark.parametrize(
    "value, bounds, message",
    [
        (float("nan"), {}, "x must be a finite number, got nan"),
        (float("inf"), {"low": 0.0}, r"x must be a finite number in \[0, ∞\), got inf"),
        (-float("inf"), {"high": 1.0}, r"x must be a finite number in \(-∞, 1\], got -inf"),
        (True, {}, "x must be a finite number, got True"),
        ("0.5", {}, "x must be a finite number, got '0.5'"),
        (0.0, {"low": 0.0, "low_open": True}, r"x must be a number in \(0, ∞\), got 0.0"),
        (1.0, {"low": 0.0, "high": 1.0, "high_open": True}, r"x must be a number in \[0, 1\), got 1.0"),
        (16.5, {"low": 0.0, "high": 16.0, "low_open": True}, r"x must be a number in \(0, 16\], got 16.5"),
    ],
)
def test_require_range_refuses_and_says_the_interval(value, bounds, message):
    with pytest.raises(ConfigError, match=message):
        require_range("x", value, **bounds)


def test_require_range_accepts_ends_that_are_closed_and_names_where():
    assert require_range("x", 0, 0.0, 1.0) == 0.0 and isinstance(require_range("x", 1, 0.0, 1.0), float)
    assert require_range("x", 16, 0.0, 16.0, low_open=True) == 16.0
    with pytest.raises(ConfigError, match="^TrainConfig: lr must be"):
        require_range("lr", -1.0, 0.0, where="TrainConfig")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_require_probability_is_require_range_on_0_1(value):
    inside = math.isfinite(value) and 0.0 <= value < 1.0
    if inside:
        assert require_probability("p", value) == value
    else:
        with pytest.raises(ConfigError, match="p must be a"):
            require_probability("p", value)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64, 1.0, True])
def test_require_seed_keeps_seeds_numpy_takes(seed):
    with pytest.raises(ConfigError, match="seed must be an integer"):
        require_seed("seed", seed)
    assert require_seed("seed", 2**32 - 1) == SEED_MAX


@pytest.mark.parametrize("text", ["1x²x3", "1x3x¹⁶x16", "①x3", "1x3x32x32½"])
def test_digits_int_cannot_read_are_a_config_error(text):
    """'²'.isdigit() is True but int('²') raises ValueError: the check must refuse what int() refuses."""
    with pytest.raises(ValueError):  # the reference: Python's int() refuses one of the parts
        [int(p) for p in text.split("x")]
    with pytest.raises(ConfigError, match="must look like 1x3x224x224"):
        require_shape("--input", text)


@given(st.lists(st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=3),
                min_size=1, max_size=4))
def test_a_shape_text_is_what_int_reads_or_a_config_error(parts):
    """Digits of every script (Unicode Nd, e.g. '٣', which int() reads; No, e.g. '²', which it does not)."""
    text = "x".join(parts)
    try:
        expected = tuple(int(p) for p in parts)
    except ValueError:
        expected = None
    if expected is None or min(expected) < 1:
        with pytest.raises(ConfigError):
            require_shape("--input", text)
    else:
        assert require_shape("--input", text) == expected
