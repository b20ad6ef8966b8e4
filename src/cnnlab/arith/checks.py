"""Validation of layer hyper-parameters, shared by every layer of cnnlab.

Each check raises :class:`cnnlab.ConfigError` naming the parameter, its value and where it came from
(``where``: the unit, block or layer spec), before any tensor is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

from cnnlab.errors import ConfigError

__all__ = [
    "require_int",
    "require_positive",
    "require_non_negative",
    "require_divisible",
    "require_choice",
    "pair",
    "require_probability",
    "require_range",
    "require_seed",
    "require_shape",
    "SEED_MAX",
]

# Largest seed cnnlab accepts: numpy's legacy seeding takes 32-bit seeds, and so does Lightning's
# ``seed_everything`` (``np.iinfo(np.uint32).max``); larger values used to be wrapped silently.
SEED_MAX = 2**32 - 1


def _label(name: str, where: str | None) -> str:
    return f"{where}: {name}" if where else name


def require_int(name: str, value: object, where: str | None = None) -> int:
    """Return ``value`` as an int; bools and floats are rejected."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConfigError(f"{_label(name, where)} must be an integer, got {value!r}")
    return int(value)


def require_positive(name: str, value: object, where: str | None = None) -> int:
    """An integer ≥ 1 (kernel size, stride, dilation, channels, groups)."""
    v = require_int(name, value, where)
    if v <= 0:
        raise ConfigError(f"{_label(name, where)} must be ≥ 1, got {value!r}")
    return v


def require_non_negative(name: str, value: object, where: str | None = None) -> int:
    """An integer ≥ 0 (padding, output_padding)."""
    v = require_int(name, value, where)
    if v < 0:
        raise ConfigError(f"{_label(name, where)} must be ≥ 0, got {value!r}")
    return v


def require_divisible(
    name: str, value: int, divisor_name: str, divisor: int, where: str | None = None
) -> None:
    """``value`` must be a multiple of ``divisor`` (e.g. channels by groups)."""
    if value % divisor != 0:
        raise ConfigError(
            f"{_label(name, where)}={value} is not divisible by {divisor_name}={divisor}"
        )


def require_choice(name: str, value: object, choices: Sequence[object], where: str | None = None) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{_label(name, where)} must be one of {list(choices)}, got {value!r}")


def pair(name: str, value: object, where: str | None = None) -> tuple[int, int]:
    """Expand an int or a 2-sequence into an (h, w) pair of ints, without validating the range."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ConfigError(f"{_label(name, where)} must be an int or a pair (h, w), got {value!r}")
        return require_int(name, value[0], where), require_int(name, value[1], where)
    v = require_int(name, value, where)
    return v, v


def require_shape(
    name: str, value: object, where: str | None = None, min_dims: int = 1, text: bool = True
) -> tuple[int, ...]:
    """A tensor shape of at least ``min_dims`` positive ints: a sequence such as ``(1, 3, 224, 224)``,
    or (with ``text``) the command-line form ``"1x3x224x224"``."""
    if text and isinstance(value, str):
        parts = value.strip().lower().split("x")
        # isdecimal, not isdigit: '²' is a digit that int() cannot read; every decimal (also '٣') it can
        if not all(p.strip().isdecimal() for p in parts):
            raise ConfigError(
                f"{_label(name, where)} must look like 1x3x224x224 (positive ints joined by 'x'), got {value!r}"
            )
        value = [int(p) for p in parts]
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < min_dims:
        raise ConfigError(
            f"{_label(name, where)} must be a shape of at least {min_dims} dimension(s) such as (1, 3, 224, 224), "
            f"got {value!r}"
        )
    return tuple(require_positive(f"{name}[{i}]", v, where) for i, v in enumerate(value))


def require_range(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    where: str | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in ``[low, high]`` (``low_open``/``high_open``: that end excluded; None: no
    bound on that side). NaN and ±inf are refused whatever the bounds; bools are not numbers."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ConfigError(f"{_label(name, where)} must be a finite number{_interval(low, high, low_open, high_open)}, "
                          f"got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        raise ConfigError(f"{_label(name, where)} must be a number{_interval(low, high, low_open, high_open)}, "
                          f"got {value!r}")
    return float(value)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    left = "(-∞" if low is None else f"{'(' if low_open else '['}{low:g}"
    right = "∞)" if high is None else f"{high:g}{')' if high_open else ']'}"
    return f" in {left}, {right}"


def require_probability(name: str, value: object, where: str | None = None) -> float:
    """A real number in ``[0, 1)`` (drop probability: 1 would drop everything)."""
    return require_range(name, value, 0.0, 1.0, where, high_open=True)


def require_seed(name: str, value: object, where: str | None = None) -> int:
    """A random seed: an integer in ``[0, SEED_MAX]``."""
    v = require_int(name, value, where)
    if not 0 <= v <= SEED_MAX:
        raise ConfigError(f"{_label(name, where)} must be an integer in [0, 2**32 - 1], got {value!r}")
    return v
