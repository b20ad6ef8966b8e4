"""Layer arithmetic: sizes, receptive fields and costs, in pure Python (no torch import)."""

from cnnlab.arith.checks import (  # noqa: F401
    pair,
    require_choice,
    require_divisible,
    require_int,
    require_non_negative,
    require_positive,
)
