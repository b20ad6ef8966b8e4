"""Fallback when torch.fx cannot trace a model (data-dependent control flow): module hooks.

The hooks go on a deep copy of the model whose parameters and buffers are meta tensors (the copy
shares no storage with the model, and the model itself gets no hook). If even a meta forward fails
(``if x.sum() > 0``), a real forward on a full copy with a zero input is used for small inputs.
Units (leaf modules) are seen by hooks; the aten ops between them (add, matmul, ...) are counted by a
dispatch mode, which also carries receptive fields from tensor to tensor (by identity) through them.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, fx, nn
from torch.utils import _pytree as pytree

from cnnlab.analysis import field_flow as flow
from cnnlab.analysis.aten_counter import AtenCounter
from cnnlab.analysis.field import INPUT_FIELD
from cnnlab.analysis.module_rules import PASS, check_input, rule_for
from cnnlab.analysis.steps import Step, Walk, first_tensor, tensor_bytes
from cnnlab.errors import ConfigError

__all__ = ["walk_hooks"]

REAL_FORWARD_LIMIT = 50_000_000  # input elements above which no real forward is attempted


def _meta_copy(model: nn.Module) -> nn.Module:
    memo: dict[int, object] = {}
    for t in [*model.parameters(), *model.buffers()]:
        memo[id(t)] = (nn.Parameter(torch.empty_like(t, device="meta"), t.requires_grad)
                       if isinstance(t, nn.Parameter) else torch.empty_like(t, device="meta"))
    return copy.deepcopy(model, memo)


def _is_leaf(m: nn.Module) -> bool:
    return rule_for(type(m)) is not None or fx.Tracer().is_leaf_module(m, "")


class _Between(AtenCounter):
    """Counts the aten ops run *between* units and carries receptive fields through them by tensor id."""

    def __init__(self, carried: dict[int, flow.Carried | None], keep: list[object]) -> None:
        super().__init__()
        self.carried, self.keep, self.depth = carried, keep, 0
        self.notes: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        if self.depth == 0:
            self._count(func, args, out)
            t = first_tensor(out)
            if t is not None:
                ins = [a for a in pytree.tree_leaves((args, kwargs or {})) if isinstance(a, Tensor)]
                c, notes = flow.flow([(a, self.carried.get(id(a)), id(a) in self.carried) for a in ins], t)
                self.notes.extend(notes)
                for o in pytree.tree_leaves(out):
                    if isinstance(o, Tensor):
                        self.carried[id(o)] = c
                        self.keep.append(o)
        return out


def _run(probe: nn.Module, x: Tensor, reason: str) -> Walk:
    walk = Walk(steps=[], traced_with="hooks")
    carried: dict[int, flow.Carried | None] = {id(x): flow.Carried(INPUT_FIELD) if x.dim() == 4 else None}
    keep: list[object] = [x]
    seen: set[int] = set()
    handles = []
    between = _Between(carried, keep)

    def enter(m: nn.Module, args: tuple) -> None:
        between.depth += 1

    def hook(path: str):
        def fn(m: nn.Module, args: tuple, out: object) -> None:
            between.depth -= 1
            xin, t = first_tensor(args), first_tensor(out)
            check_input(path, m, xin)
            rule = rule_for(type(m))
            macs, ops = rule.cost(m, args, out) if rule is not None else ({}, {})
            if rule is None:
                walk.unsupported[f"module:{type(m).__name__}"] += 1
            params = sum(p.numel() for p in m.parameters() if id(p) not in seen)
            seen.update(id(p) for p in m.parameters())
            c_in = carried.get(id(xin)) if xin is not None else None
            c_out = None
            if t is not None and c_in is not None:
                result = rule.field(m, c_in.field, xin, t) if rule is not None and c_in.axes == flow.NCHW else PASS
                if result == PASS:
                    c_out, _ = flow.flow([(xin, c_in, True)], t)
                elif result is not None:
                    c_out = flow.Carried(result)
            if t is not None:
                carried[id(t)] = c_out
                keep.append(t)
                if c_out is not None:
                    walk.last_field = (c_out.field, (int(t.shape[-2]), int(t.shape[-1])), path)
            walk.steps.append(Step(path, type(m).__name__, rule.kind if rule else "other",
                                   tuple(t.shape) if t is not None else None, params, macs, ops,
                                   c_out.field if c_out else None, tensor_bytes(out)))
        return fn

    try:
        for path, m in probe.named_modules():
            leaf = _is_leaf(m) and not any(True for _ in m.children()) or isinstance(m, nn.MultiheadAttention)
            if leaf and (path or m is probe):
                handles.append(m.register_forward_pre_hook(enter))
                handles.append(m.register_forward_hook(hook(path or type(m).__name__.lower())))
        with torch.no_grad(), between:
            probe(x)
    finally:
        for h in handles:
            h.remove()
    if between.macs or between.ops:
        walk.steps.append(Step("(functional ops between units)", "aten", "other", None, 0,
                               dict(between.macs), dict(between.ops), None, 0, row=False))
    walk.unsupported.update(between.unsupported)
    walk.warnings.extend(sorted(set(between.notes)))
    walk.activation_bytes = sum(s.out_bytes for s in walk.steps)
    walk.peak_activation_bytes = max((s.out_bytes for s in walk.steps), default=0) + tensor_bytes(x)
    walk.warnings.append(
        f"traced with hooks ({reason.splitlines()[0][:200]}): ops between units are counted at aten level "
        "(not listed as rows) and peak memory is a lower bound"
    )
    return walk


def walk_hooks(model: nn.Module, x: Tensor, reason: str) -> Walk:
    """Walk ``model`` with forward hooks on a meta copy (or, failing that, a real copy)."""
    try:
        return _run(_meta_copy(model), x, reason)
    except ConfigError:
        raise
    except Exception as meta_error:
        if x.numel() > REAL_FORWARD_LIMIT:
            raise ConfigError(
                f"cannot inspect {type(model).__name__}: {reason}; a meta forward failed too ({meta_error})"
            ) from None
        try:
            real = copy.deepcopy(model).eval()
            return _run(real, torch.zeros(x.shape, dtype=x.dtype), reason + "; meta forward failed, real forward used")
        except ConfigError:
            raise
        except Exception as real_error:
            raise ConfigError(
                f"cannot inspect {type(model).__name__}: {reason}; hooks failed too ({real_error})"
            ) from None
