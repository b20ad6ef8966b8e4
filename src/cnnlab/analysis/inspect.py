"""``inspect(model, input_size)``: see through any nn.Module without running it for real."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from cnnlab.analysis.render.report import Report, build_report
from cnnlab.analysis.walk.fx import WalkFailed, walk_fx
from cnnlab.analysis.walk.meta_copy import meta_copy, no_global_hooks
from cnnlab.arith.checks import require_shape
from cnnlab.errors import ConfigError

__all__ = ["inspect", "parse_input_size"]

DEFAULT_INPUT_SIZE = (1, 3, 224, 224)


def parse_input_size(input_size: object, where: str = "input_size") -> tuple[int, ...]:
    """A shape such as ``(1, 3, 224, 224)`` or ``"1x3x224x224"``, validated."""
    return require_shape(where, input_size)


def _several_shapes(input_size: object) -> bool:
    return isinstance(input_size, list) and len(input_size) > 0 and all(
        isinstance(s, (tuple, list, str)) for s in input_size)


def _meta_inputs(input_size: object, input_data: object, dtype: torch.dtype) -> tuple[tuple, dict]:
    """The forward's positional and keyword arguments as meta tensors (torchinfo's conventions)."""
    if input_data is not None:
        if input_size is not None:
            raise ConfigError("inspect takes input_size or input_data, not both")

        def to_meta(v: object) -> object:
            return torch.empty_like(v, device="meta") if isinstance(v, Tensor) else v

        if isinstance(input_data, dict):
            return (), pytree.tree_map(to_meta, dict(input_data))
        if isinstance(input_data, (tuple, list)):
            return tuple(pytree.tree_map(to_meta, list(input_data))), {}
        if isinstance(input_data, Tensor):
            return (to_meta(input_data),), {}
        raise ConfigError(f"input_data must be a tensor, a list/tuple of forward arguments or a dict of keyword "
                          f"arguments, got {type(input_data).__name__}")
    if input_size is None:
        input_size = DEFAULT_INPUT_SIZE
    shapes = ([parse_input_size(s, f"input_size[{i}]") for i, s in enumerate(input_size)]
              if _several_shapes(input_size) else [parse_input_size(input_size)])
    return tuple(torch.empty(s, dtype=dtype, device="meta") for s in shapes), {}


def inspect(model: nn.Module, input_size: object = None, dtype: torch.dtype = torch.float32,
            name: str | None = None, input_data: object = None) -> Report:
    """Shapes, params, MACs, FLOPs, activation memory and receptive field of ``model``.

    The input is ``input_size`` (a shape such as ``(1, 3, 224, 224)`` or ``"1x3x224x224"``, or a list of
    shapes for a forward with several inputs; default 1x3x224x224) or ``input_data`` (a tensor, a list of
    positional arguments or a dict of keyword arguments, as torchinfo takes them; only their shapes and
    dtypes are used). Traces a meta copy of the model with torch.fx (nothing is computed, any input size is
    free) and falls back to module hooks on that copy when tracing fails (``Report.traced_with``). The
    model itself is never touched: no parameter, buffer, parametrization, mode or hook of it changes, and
    none of its hooks runs.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"inspect needs an nn.Module, got {type(model).__name__}")
    args, kwargs = _meta_inputs(input_size, input_data, dtype)
    first = next((t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, Tensor)), None)
    if first is None:
        raise ConfigError("inspect needs at least one tensor input")
    with no_global_hooks():
        probe = meta_copy(model)
        try:
            walk = walk_fx(probe, args, kwargs)
        except WalkFailed as fx_error:
            from cnnlab.analysis.walk.hooks import walk_hooks

            walk = walk_hooks(model, meta_copy(model), args, kwargs, reason=str(fx_error))
    unique = {id(p): p for p in model.parameters()}.values()
    params = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return build_report(name or type(model).__name__, tuple(first.shape), walk, params, trainable)
