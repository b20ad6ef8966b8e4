"""Input sizes for export: ``(N, C, H, W)`` tuples, or text like ``1x3x224x224`` from the command line."""

from __future__ import annotations

from collections.abc import Sequence

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError

__all__ = ["check_input_size", "parse_input_size"]


def check_input_size(input_size: object, where: str = "input_size") -> tuple[int, ...]:
    """A tuple of ≥ 2 positive ints (batch, channels, spatial...); ConfigError otherwise."""
    if isinstance(input_size, str) or not isinstance(input_size, Sequence) or len(input_size) < 2:
        raise ConfigError(f"{where} must be a sequence (batch, channels, ...) of ≥ 2 ints, got {input_size!r}")
    return tuple(require_positive(f"dimension {i}", v, where) for i, v in enumerate(input_size))


def parse_input_size(text: str, where: str = "--input") -> tuple[int, ...]:
    """``"1x3x224x224"`` -> ``(1, 3, 224, 224)``."""
    parts = text.strip().lower().split("x")
    if not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"{where} must look like 1x3x224x224 (positive ints joined by 'x'), got {text!r}")
    return check_input_size([int(p) for p in parts], where)
