"""The record of one op of a network, shared by the fx walk and the hooks walk."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from torch import Tensor

from cnnlab.analysis.walk.field import SpatialField

__all__ = ["Step", "Walk", "tensor_bytes"]


@dataclass
class Step:
    """One executed op: a unit (leaf module), a counted function (add, matmul ...) or an aten op."""

    path: str
    type: str
    kind: str
    shape: tuple[int, ...] | None
    params: int
    macs: dict[str, int]
    ops: dict[str, int]
    field: SpatialField | None
    out_bytes: int
    row: bool = True
    notes: list[str] = field(default_factory=list)
    grad_macs: dict[str, int] = field(default_factory=dict)  # backward MACs by kind (training cost)
    saved: list[tuple[object, int]] = field(default_factory=list)  # (storage, bytes) kept for the backward
    needs_grad: bool = False  # whether the output needs a gradient in a training step


@dataclass
class Walk:
    """What a walk over the network found, before it is turned into a Report."""

    steps: list[Step]
    traced_with: str
    unsupported: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    activation_bytes: int = 0
    peak_activation_bytes: int = 0
    last_field: tuple[SpatialField, str] | None = None  # field of the last map with spatial extent, its path
    train_unsupported: Counter[str] = field(default_factory=Counter)  # ops whose saved tensors are unknown


def tensor_bytes(value: object) -> int:
    if isinstance(value, Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(tensor_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    return 0
