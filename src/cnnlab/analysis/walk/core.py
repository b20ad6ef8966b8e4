"""The one place where a call of a unit or a function becomes a :class:`Step`, for both walks.

:meth:`Core.call` runs one call on meta tensors — its output shape by the rule's formula when it has one,
else the module or function itself — applies the rule (cost, receptive field), or, when there is no rule,
walks the call op by op at aten level (:class:`~cnnlab.analysis.walk.aten.AtenWalk`); then it records the
step. The fx walk (:mod:`~cnnlab.analysis.walk.fx`) and the hooks walk (:mod:`~cnnlab.analysis.walk.hooks`)
differ only in how they find the calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import Tensor, nn

from cnnlab.analysis.rules.base import Call, Rule, check_costs, check_field, first_tensor
from cnnlab.analysis.walk.aten import AtenWalk, run_under
from cnnlab.analysis.walk.field import SpatialField, propagate
from cnnlab.analysis.walk.steps import Step, Walk, tensor_bytes
from cnnlab.analysis.walk.training import grad_macs, saved_entries, weight_needs_grad
from cnnlab.errors import ConfigError

__all__ = ["Core", "check_input", "describe_shapes"]

Input = tuple[Tensor, "SpatialField | None", bool]


def describe_shapes(values: object) -> str:
    shapes = [tuple(v.shape) for v in (values if isinstance(values, (tuple, list)) else [values])
              if isinstance(v, Tensor)]
    return ", ".join(str(s) for s in shapes) or "no tensors"


def check_input(path: str, m: nn.Module, x: object) -> None:
    """Channel / feature checks that turn a wrong input into a ConfigError naming the layer."""
    if not isinstance(x, Tensor):
        return
    expected, got = None, None
    if isinstance(m, nn.modules.conv._ConvNd):
        expected, got = m.in_channels, (x.shape[-len(m.kernel_size) - 1] if x.dim() > len(m.kernel_size) else None)
    elif isinstance(m, nn.modules.batchnorm._BatchNorm) and x.dim() >= 2:
        expected, got = m.num_features, x.shape[1]
    elif isinstance(m, nn.Linear) and x.dim() >= 1:
        expected, got = m.in_features, x.shape[-1]
    if expected is not None and got != expected:
        what = "input features" if isinstance(m, nn.Linear) else "input channels"
        raise ConfigError(
            f"layer {path!r} ({type(m).__name__}) expects {expected} {what}, got {got} "
            f"(input shape {tuple(x.shape)})"
        )


class Core:
    """Records the steps of one walk; ``seen_params`` counts each shared parameter once."""

    def __init__(self, traced_with: str) -> None:
        self.walk = Walk(steps=[], traced_with=traced_with)
        self.seen_params: set[int] = set()

    def new_params(self, module: nn.Module | None) -> int:
        """Parameters of ``module`` not counted yet (a module called twice has its parameters once)."""
        if module is None:
            return 0
        total = 0
        for p in module.parameters():
            if id(p) not in self.seen_params:
                self.seen_params.add(id(p))
                total += p.numel()
        return total

    def call(self, path: str, type_name: str, rule: Rule | None, call: Call, inputs: list[Input],
             run: Callable[[], object], row: bool = True, formula: bool = True,
             grads: list[tuple[bool, object]] | None = None, out_key: object = None,
             sizes: list[int] | None = None) -> tuple[object, SpatialField | None, Step]:
        """Run one call, apply its rule (or walk it at aten level), record its step; returns the output,
        its field and the step. ``formula=False``: ``run`` returns an output computed already (hooks).
        ``grads``: per tensor input, whether it needs a gradient and its storage key; ``out_key`` the output's
        (for the training cost: backward MACs and saved activations, ``Step.grad_macs`` / ``Step.saved``);
        ``sizes`` the bytes of each input's whole storage."""
        grads = grads if grads is not None else [(False, None)] * len(inputs)
        needs = tuple(n for n, _ in grads)
        out = self._by_formula(rule, call) if formula else None
        aten = None
        if out is None:
            if rule is None:
                aten = AtenWalk(path)
                out = run_under(aten, inputs, run, grads)
            else:
                with torch.no_grad():
                    out = run()
        call = replace(call, output=out)
        t = first_tensor(out)
        back: dict[str, int] = {}
        saved: list[tuple[object, int]] | None = []
        if aten is not None:
            macs, ops, notes = dict(aten.macs), dict(aten.ops), list(dict.fromkeys(aten.notes))
            field = aten.field_of(t)[0] if t is not None else None
            kind = "other"
            for name, count in aten.unsupported.items():
                self.walk.unsupported[f"{type_name}:{name}"] += count
            self.walk.train_unsupported.update(aten.train_unsupported)
            if not macs and not ops and not aten.unsupported and call.module is None:
                row = False
            inner = aten.grad_of(t)[1] if t is not None else None  # the output's storage seen from inside
            back = dict(aten.grad_macs)
            saved = [(out_key if key is inner else key, size) for key, size in aten.saved]
        else:
            macs, ops = check_costs(rule, path, rule.cost(call))
            spec = check_field(rule, path, rule.field(call)) if rule.field is not None and t is not None else None
            field, notes = propagate(spec, inputs, t)
            notes = [rule.note, *notes] if rule.note else notes
            kind = rule.kind
            if any(needs) or weight_needs_grad(call.module):
                back = grad_macs(rule, call, macs, needs)
                saved = saved_entries(rule, call, needs, [x for x, _, _ in inputs], [k for _, k in grads], out_key,
                                      sizes)
                if saved is None:
                    self.walk.train_unsupported[type_name] += 1
        step = self.record(path, type_name, kind, out, self.new_params(call.module), macs, ops, field, notes, row)
        step.grad_macs, step.saved = back, saved or []
        step.needs_grad = any(needs) or weight_needs_grad(call.module) or bool(aten and any(aten.grad_macs))
        return out, field, step

    def record(self, path: str, type_name: str, kind: str, out: object, params: int, macs: dict, ops: dict,
               field: SpatialField | None, notes: list[str], row: bool = True) -> Step:
        """Add a step (a row when ``row``, or when it has parameters or costs) and note the latest field."""
        t = first_tensor(out)
        step = Step(path=path, type=type_name, kind=kind, shape=tuple(t.shape) if t is not None else None,
                    params=params, macs=macs, ops=ops, field=field, out_bytes=tensor_bytes(out),
                    row=row or bool(params or macs or ops), notes=notes)
        for note in notes:
            self.walk.warnings.append(f"{path}: {note}")
        self.walk.steps.append(step)  # every step counts in the totals; rows are the ones with step.row
        if field is not None:
            self.walk.last_field = (field, path)
        return step

    @staticmethod
    def _by_formula(rule: Rule | None, call: Call) -> Tensor | None:
        if rule is None or rule.shape is None:
            return None
        x = call.input
        if x is None or not x.is_meta:
            return None
        shape = rule.shape(call)
        if shape is None or min(shape, default=1) <= 0:
            return None  # let the op run, and fail with its own message if the input is too small
        return torch.empty(shape, dtype=x.dtype, device="meta")
