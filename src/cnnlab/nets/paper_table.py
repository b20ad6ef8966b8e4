"""The pieces every family's ``paper_table`` hook shares.

A builder sets ``model.paper_table = <family>_paper_table``: a function of the built network that lays its
table out as the family's paper does (rows of module paths plus the paper's own columns, read from the
built modules). :func:`cnnlab.analysis.stage_table` reads it (the layout format is documented there) and
adds what only a trace can give: output sizes and MACs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from cnnlab.arith.checks import pair

__all__ = ["convs", "fmt", "kernel", "table_row"]


def table_row(name: str, paths: Sequence[str], *, lead: Sequence[str] = (), block: str | None = None,
              repeats: int = 1, channels: int | None = None, cells: Mapping[str, object] | None = None
              ) -> dict[str, Any]:
    """One row of a layout (see :mod:`cnnlab.analysis.stage_table`)."""
    return {"name": name, "paths": list(paths), "lead": list(lead), "block": block, "repeats": repeats,
            "channels": channels, "cells": {k: str(v) for k, v in (cells or {}).items()}}


def convs(module: nn.Module, skip: str = "shortcut") -> list[nn.Conv2d]:
    """The convolutions of ``module`` in order, those under a child named ``skip`` left out."""
    return [m for name, m in module.named_modules()
            if isinstance(m, nn.Conv2d) and skip not in name.split(".")]


def fmt(value: float) -> str:
    """A number as the papers print it: ``6`` rather than ``6.0``."""
    return f"{value:g}"


def kernel(m: nn.Module) -> str:
    """A conv's or a pool's window as the tables print it: ``3x3``."""
    kh, kw = pair("kernel_size", m.kernel_size)
    return f"{kh}x{kw}"
