"""Fallback when torch.fx cannot trace a model (data-dependent control flow): module hooks plus aten ops.

The model run is inspect's meta copy (no user hook, no shared state). Modules with a rule are units, seen
by forward hooks; everything else — the ops between units and inside modules cnnlab has no rule for — is
walked op by op at aten level (:class:`~cnnlab.analysis.walk.aten.AtenWalk`), each counted op a row named
after the module it ran in, and receptive fields carried from tensor to tensor by identity. If even a meta
forward fails (``if x.sum() > 0``), a real forward of a real copy (hooks dropped too) on a zero input is used
for small inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from cnnlab.analysis.rules.base import Call, Rule, first_tensor, function_rule, module_rule
from cnnlab.analysis.walk.aten import AtenWalk
from cnnlab.analysis.walk.core import Core, check_input
from cnnlab.analysis.walk.field import input_field
from cnnlab.analysis.walk.meta_copy import meta_copy
from cnnlab.analysis.walk.steps import Walk, tensor_bytes
from cnnlab.errors import ConfigError

__all__ = ["walk_hooks"]

REAL_FORWARD_LIMIT = 50_000_000  # input elements above which no real forward is attempted


def _run(probe: nn.Module, args: tuple, kwargs: dict, reason: str) -> Walk:
    core = Core("hooks")
    stack: list[str] = []

    def between(name, rule, macs, ops, field, notes, out) -> None:  # noqa: ANN001
        where = stack[-1] if stack else ""
        if rule is not None and rule.kind == "shape" and not (macs or ops):
            if field is not None:
                core.walk.last_field = (field, f"{where}.{name}" if where else name)
            return
        kind = rule.kind if rule is not None else "other"
        core.record(f"{where}.{name}" if where else name, f"aten.{name}", kind, out, 0, macs, ops, field, notes)

    aten = AtenWalk("(between units)", on_op=between)
    for t in pytree.tree_leaves((args, kwargs)):
        if isinstance(t, Tensor):
            image = t.is_floating_point()
            aten.track(t, input_field(t) if image else None, image, t.requires_grad)
    handles = []

    def record(path: str, type_name: str, rule: Rule, call: Call, out: object, inplace: bool) -> None:
        """A unit or a function with a rule has run (its aten ops paused): apply the rule to what it did."""
        tensors = [t for t in pytree.tree_leaves((call.args, call.kwargs)) if isinstance(t, Tensor)]
        inputs = [(t, *aten.field_of(t)) for t in tensors]
        grads = [aten.grad_of(t) for t in tensors]
        key = grads[0][1] if inplace and grads else object()
        _, field, step = core.call(path, type_name, rule, call, inputs, lambda: out, formula=False, grads=grads,
                                   out_key=key)
        depends = any(d for _, _, d in inputs)
        for o in pytree.tree_leaves(out):
            first = o is first_tensor(out)
            aten.track(o, field if first else None, depends, step.needs_grad, key if first else None)

    def enter_unit(m: nn.Module, args: tuple) -> None:
        aten.depth += 1

    def unit_done(path: str):  # noqa: ANN202
        def fn(m: nn.Module, args: tuple, out: object) -> None:
            aten.depth -= 1
            check_input(path, m, first_tensor(args))
            record(path, type(m).__name__, module_rule(type(m)), Call(type(m), args, {}, module=m), out,
                   bool(getattr(m, "inplace", False)))
        return fn

    class Functions(TorchFunctionMode):
        """Functions with a rule (F.pad, F.interpolate, F.conv2d ...) are read as the fx walk reads them, not
        op by op: a circular pad, for one, is a chain of slices and copies at aten level."""

        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            rule = function_rule(func) if aten.depth == 0 else None
            if rule is None or rule.kind in ("add", "mul", "act"):  # element-wise: aten sees the same thing
                return func(*args, **kwargs)
            aten.depth += 1
            try:
                out = func(*args, **kwargs)
            finally:
                aten.depth -= 1
            name = getattr(func, "__name__", str(func))
            where = stack[-1] if stack else ""
            record(f"{where}.{name}" if where else name, name, rule, Call(func, args, kwargs), out,
                   bool(kwargs.get("inplace", False)))
            return out

    def push(path: str):  # noqa: ANN202
        return lambda m, args: stack.append(path)

    def pop(m: nn.Module, args: tuple, out: object) -> None:
        stack.pop()

    try:
        for path, m in probe.named_modules():
            if module_rule(type(m)) is not None:
                handles.append(m.register_forward_pre_hook(enter_unit))
                handles.append(m.register_forward_hook(unit_done(path or type(m).__name__.lower())))
            else:  # ops inside are named after the module they ran in (the model's own: no prefix)
                handles.append(m.register_forward_pre_hook(push(path)))
                handles.append(m.register_forward_hook(pop))
        with torch.no_grad(), aten, Functions():
            probe(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    if aten.grad_macs or aten.saved:  # the training cost of the ops between units, in one step
        step = core.record("(ops between units)", "aten", "other", None, 0, {}, {}, None, [], row=False)
        step.grad_macs, step.saved = dict(aten.grad_macs), list(aten.saved)
    walk = core.walk
    walk.unsupported.update(aten.unsupported)
    walk.train_unsupported.update(aten.train_unsupported)
    walk.warnings.extend(sorted(set(aten.notes)))
    walk.activation_bytes = sum(s.out_bytes for s in walk.steps)
    walk.peak_activation_bytes = max((s.out_bytes for s in walk.steps), default=0) + sum(
        tensor_bytes(t) for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, Tensor))
    walk.warnings.append(
        f"traced with hooks ({reason.splitlines()[0][:200]}): ops between units are walked at aten level "
        "and peak memory is a lower bound"
    )
    return walk


def _real(value: object) -> object:
    if isinstance(value, Tensor):
        return torch.zeros(value.shape, dtype=value.dtype)
    return value


def walk_hooks(model: nn.Module, probe: nn.Module, args: tuple, kwargs: dict, reason: str) -> Walk:
    """Walk ``probe`` (inspect's meta copy of ``model``) with hooks; failing that, a real copy of ``model``."""
    try:
        return _run(probe, args, kwargs, reason)
    except ConfigError:
        raise
    except Exception as meta_error:
        numel = sum(t.numel() for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, Tensor))
        if numel > REAL_FORWARD_LIMIT:
            raise ConfigError(
                f"cannot inspect {type(model).__name__}: {reason}; a meta forward failed too ({meta_error})"
            ) from None
        try:
            real = meta_copy(model, device="cpu").eval()
            real_args, real_kwargs = pytree.tree_map(_real, (args, kwargs))
            return _run(real, real_args, real_kwargs, reason + "; meta forward failed, real forward used")
        except ConfigError:
            raise
        except Exception as real_error:
            raise ConfigError(
                f"cannot inspect {type(model).__name__}: {reason}; hooks failed too ({real_error})"
            ) from None
