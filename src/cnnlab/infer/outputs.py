"""Comparing model outputs that may be a tensor or a nest of tensors (lists, tuples, dicts)."""

from __future__ import annotations

import torch

__all__ = ["output_errors", "tensor_leaves"]


def tensor_leaves(output: object) -> list[torch.Tensor]:
    """The tensors of a model output that may be a tensor, a list/tuple or a dict of them."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in tensor_leaves(item)]
    return []


def output_errors(output: object, reference: object) -> tuple[float, float]:
    """(max abs difference, that difference / max |reference|) over all output tensors."""
    pairs = list(zip(tensor_leaves(output), tensor_leaves(reference), strict=True))
    diff = max(((o.float() - r.float()).abs().max().item() for o, r in pairs), default=0.0)
    scale = max((r.float().abs().max().item() for _, r in pairs), default=0.0)
    return diff, diff / max(scale, 1e-12)
