"""Fold inference-mode BatchNorm into the layer that feeds it (Ioffe & Szegedy 2015, Alg. 2, eval branch).

In eval mode ``bn(y) = gamma * (y - mean) / sqrt(var + eps) + beta`` is an affine map per channel, so
when ``y = conv(x)`` is used by nothing but that BatchNorm the two collapse into one conv with
``W' = W * s`` and ``b' = (b - mean) * s + beta``, ``s = gamma / sqrt(var + eps)`` per output channel.

The pairs are found with torch.fx on any traceable model (a conv whose output has a single user, the
BatchNorm, and neither module called anywhere else); the surgery is done on the module tree itself (the
conv takes the folded weights, the BatchNorm becomes ``nn.Identity``), so the model keeps its class,
methods and attributes. A model fx cannot trace falls back to ``conv, bn`` neighbours inside plain
``nn.Sequential`` containers, where the data flow is known without tracing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils import parametrize

__all__ = ["FoldReport", "fold_batchnorm_", "fold_scale_shift"]

# layer type -> BatchNorm types it can absorb (the norm must act on the layer's channel axis)
_CONV_BN = {
    nn.Conv1d: (nn.BatchNorm1d,),
    nn.Conv2d: (nn.BatchNorm2d,),
    nn.Conv3d: (nn.BatchNorm3d,),
    nn.ConvTranspose1d: (nn.BatchNorm1d,),
    nn.ConvTranspose2d: (nn.BatchNorm2d,),
    nn.ConvTranspose3d: (nn.BatchNorm3d,),
}


@dataclass
class FoldReport:
    """What :func:`fold_batchnorm_` did: ``method`` is "fx", "sequential" or "none"."""

    method: str
    folded: list[tuple[str, str]] = field(default_factory=list)  # (layer name, batchnorm name)
    trace_error: str | None = None

    def __str__(self) -> str:
        how = f"via {self.method}" + (f" (fx trace failed: {self.trace_error})" if self.trace_error else "")
        return f"folded {len(self.folded)} BatchNorm layer(s) {how}"


def fold_scale_shift(bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(scale, shift)`` with ``bn(y) = y * scale + shift`` in eval mode, in float64."""
    mean = bn.running_mean.detach().double()
    var = bn.running_var.detach().double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - mean * scale


def _out_channels(layer: nn.Module) -> int:
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


def _can_fold(layer: nn.Module, bn: nn.Module, linear_ok: bool) -> bool:
    """Whether ``bn`` directly after ``layer`` folds into it exactly."""
    if not isinstance(bn, _BatchNorm) or bn.running_mean is None or bn.running_var is None:
        return False
    if isinstance(layer, nn.Linear):
        allowed = (nn.BatchNorm1d,) if linear_ok else ()
    else:
        allowed = _CONV_BN.get(type(layer), ())
    if type(bn) not in allowed or bn.num_features != _out_channels(layer):
        return False
    return not (parametrize.is_parametrized(layer) or parametrize.is_parametrized(bn))


def _fold_pair_(layer: nn.Module, bn: _BatchNorm) -> None:
    """Give ``layer`` the folded weight and bias (in place); ``bn`` is left for the caller to remove."""
    scale, shift = fold_scale_shift(bn)
    weight = layer.weight.detach()
    if isinstance(layer, _ConvNd) and layer.transposed:
        # (in, out/groups, *k): output channel o = g * out/groups + j lives at [g-th input block, j]
        groups = layer.groups
        w = weight.double().reshape(groups, -1, *weight.shape[1:])
        w = w * scale.reshape(groups, 1, -1, *[1] * (weight.dim() - 2))
    else:  # Conv (out, in/groups, *k) and Linear (out, in): output channel on axis 0
        w = weight.double() * scale.reshape(-1, *[1] * (weight.dim() - 1))
    old_bias = layer.bias.detach().double() if layer.bias is not None else torch.zeros_like(shift)
    bias = old_bias * scale + shift
    requires_grad = layer.weight.requires_grad
    layer.weight = nn.Parameter(w.reshape(weight.shape).to(weight.dtype), requires_grad=requires_grad)
    layer.bias = nn.Parameter(bias.to(weight.dtype), requires_grad=requires_grad)


def _replace_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def _fx_pairs(model: nn.Module, linear_2d: set[str]) -> list[tuple[str, str]]:
    """(layer, batchnorm) names to fold, read from the fx graph of ``model``; raises if untraceable."""
    graph = fx.symbolic_trace(model).graph
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    touched = {n.target for n in graph.nodes if n.op == "get_attr"}
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        producer = node.args[0]
        if not isinstance(producer, fx.Node) or producer.op != "call_module" or len(producer.users) != 1:
            continue
        layer_name, bn_name = producer.target, node.target
        if calls[layer_name] != 1 or calls[bn_name] != 1:
            continue  # a module used at two call sites cannot change for one of them
        if any(t == n or t.startswith(n + ".") for t in touched for n in (layer_name, bn_name)):
            continue  # forward reads their tensors directly
        layer, bn = model.get_submodule(layer_name), model.get_submodule(bn_name)
        if _can_fold(layer, bn, linear_ok=layer_name in linear_2d):
            pairs.append((layer_name, bn_name))
    return pairs


def _sequential_pairs(model: nn.Module, linear_2d: set[str]) -> list[tuple[str, str]]:
    """(layer, batchnorm) neighbours inside containers whose forward is ``nn.Sequential.forward``."""
    pairs = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Sequential) or type(module).forward is not nn.Sequential.forward:
            continue
        children = list(module.named_children())
        prefix = f"{name}." if name else ""
        for (a_name, a), (b_name, b) in zip(children, children[1:], strict=False):
            if _can_fold(a, b, linear_ok=prefix + a_name in linear_2d):
                pairs.append((prefix + a_name, prefix + b_name))
    # a module reachable under two names (shared) must not be folded
    seen = Counter(id(m) for _, m in model.named_modules(remove_duplicate=False))
    return [p for p in pairs if all(seen[id(model.get_submodule(n))] == 1 for n in p)]


def _linear_outputs_2d(model: nn.Module, example_input: torch.Tensor | None) -> set[str]:
    """Names of Linear layers whose output is (N, features), so BatchNorm1d acts on their features."""
    if example_input is None:
        return set()
    found: set[str] = set()
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, name=name: found.add(name) if out.dim() == 2 else None)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear)
    ]
    try:
        with torch.no_grad():
            model(example_input)
    finally:
        for h in hooks:
            h.remove()
    return found


def fold_batchnorm_(model: nn.Module, example_input: torch.Tensor | None = None) -> FoldReport:
    """Fold every foldable BatchNorm of the eval-mode ``model`` into its producer, in place.

    Linear -> BatchNorm1d is folded only when ``example_input`` shows the Linear's output is 2-D.
    """
    if model.training:
        raise ValueError("fold_batchnorm_ needs a model in eval mode")
    linear_2d = _linear_outputs_2d(model, example_input)
    try:
        pairs, method, error = _fx_pairs(model, linear_2d), "fx", None
    except Exception as exc:  # noqa: BLE001 - any trace failure means "not traceable"
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        pairs, method = _sequential_pairs(model, linear_2d), "sequential"
    for layer_name, bn_name in pairs:
        _fold_pair_(model.get_submodule(layer_name), model.get_submodule(bn_name))
        _replace_submodule(model, bn_name, nn.Identity())
    return FoldReport(method=method if pairs or error is None else "none", folded=pairs, trace_error=error)
