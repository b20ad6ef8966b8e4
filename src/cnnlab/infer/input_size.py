"""Input sizes for export: ``(N, C, H, W)`` tuples, or text like ``1x3x224x224`` from the command line."""

from __future__ import annotations

from cnnlab.arith.checks import require_shape

__all__ = ["check_input_size", "parse_input_size"]


def check_input_size(input_size: object, where: str = "input_size") -> tuple[int, ...]:
    """A tuple of ≥ 2 positive ints (batch, channels, spatial...); ConfigError otherwise."""
    return require_shape(where, input_size, min_dims=2, text=False)


def parse_input_size(text: str, where: str = "--input") -> tuple[int, ...]:
    """``"1x3x224x224"`` -> ``(1, 3, 224, 224)``."""
    return require_shape(where, text, min_dims=2)
