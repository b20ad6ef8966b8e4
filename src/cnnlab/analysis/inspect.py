"""``inspect(model, input_size)``: see through any nn.Module without running it for real."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.analysis.fx_walk import WalkFailed, walk_fx
from cnnlab.analysis.report import Report, build_report
from cnnlab.arith.checks import require_shape
from cnnlab.errors import ConfigError

__all__ = ["inspect", "parse_input_size"]


def parse_input_size(input_size: object, where: str = "input_size") -> tuple[int, ...]:
    """A shape such as ``(1, 3, 224, 224)`` or ``"1x3x224x224"``, validated."""
    return require_shape(where, input_size)


def inspect(model: nn.Module, input_size: object = (1, 3, 224, 224), dtype: torch.dtype = torch.float32,
            name: str | None = None) -> Report:
    """Shapes, params, MACs, FLOPs, activation memory and receptive field of ``model``.

    Traces with torch.fx and propagates meta tensors (nothing is computed, any input size is free);
    falls back to module hooks on a meta copy when tracing fails (``Report.traced_with``). The model
    is never modified: no parameter, buffer, mode or hook of it changes.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"inspect needs an nn.Module, got {type(model).__name__}")
    shape = parse_input_size(input_size)
    x = torch.empty(shape, dtype=dtype, device="meta")
    try:
        walk = walk_fx(model, x)
    except WalkFailed as fx_error:
        from cnnlab.analysis.hooks_walk import walk_hooks

        walk = walk_hooks(model, x, reason=str(fx_error))
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return build_report(name or type(model).__name__, shape, walk, params, trainable)
