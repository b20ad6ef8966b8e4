"""The record of one op of a network, shared by the fx walk and the hooks walk."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from torch import Tensor

from cnnlab.analysis.field import Field

__all__ = ["Step", "Walk", "tensor_bytes", "first_tensor", "int_pair"]


@dataclass
class Step:
    """One executed op: a unit (leaf module) or a counted function (add, matmul, ...)."""

    path: str
    type: str
    kind: str
    shape: tuple[int, ...] | None
    params: int
    macs: dict[str, int]
    ops: dict[str, int]
    field: Field | None
    out_bytes: int
    row: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class Walk:
    """What a walk over the network found, before it is turned into a Report."""

    steps: list[Step]
    traced_with: str
    unsupported: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    activation_bytes: int = 0
    peak_activation_bytes: int = 0
    last_field: tuple[Field, tuple[int, int], str] | None = None  # field, (h, w) of its map, path


def tensor_bytes(value: object) -> int:
    if isinstance(value, Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(tensor_bytes(v) for v in value)
    return 0


def first_tensor(value: object) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            t = first_tensor(v)
            if t is not None:
                return t
    return None


def int_pair(v: object) -> tuple[int, int]:
    """A module's or call's ``kernel_size`` / ``stride`` / ... as ``(h, w)``: an int for both, or the first
    and last entries of a sequence (an empty one, as some pooling calls pass, means 1)."""
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1])) if len(v) else (1, 1)
    return int(v), int(v)
