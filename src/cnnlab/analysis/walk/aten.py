"""Walk a call op by op at aten level: what inspect does where it has no rule for the whole call.

Used for a function or module with no rule (a ``torch.fx.wrap``-ped function, a module whose forward pads
before convolving, a module cnnlab does not know) and, in the hooks walk, for every op between units. Each
aten op is counted by its rule (:mod:`cnnlab.analysis.rules.aten`), and its receptive field is carried from
tensor to tensor by identity, so the geometry inside such calls is exact too. Aten ops with neither a
rule nor a pure data-movement role are named in ``unsupported``, never silently 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from cnnlab.analysis.rules.aten import aten_rule
from cnnlab.analysis.rules.base import Call, Rule, check_costs, check_field, function_rule
from cnnlab.analysis.walk.field import SpatialField, propagate
from cnnlab.analysis.walk.training import grad_macs, saved_entries

__all__ = ["AtenWalk", "OpRecord"]

OpRecord = Callable[[str, Rule | None, dict, dict, "SpatialField | None", list, object], None]


class AtenWalk(TorchDispatchMode):
    """Counts MACs and flops by kind and carries fields through aten ops; ``depth > 0`` pauses it (the hooks
    walk sets it while a unit it counts itself runs)."""

    def __init__(self, where: str, on_op: OpRecord | None = None) -> None:
        super().__init__()
        self.where, self.on_op, self.depth = where, on_op, 0
        self.macs: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()
        self.unsupported: Counter[str] = Counter()
        self.notes: list[str] = []
        self.grad_macs: Counter[str] = Counter()
        self.saved: list[tuple[object, int]] = []
        self.train_unsupported: Counter[str] = Counter()
        self.fields: dict[int, tuple[SpatialField | None, bool]] = {}
        self.grads: dict[int, tuple[bool, object]] = {}  # id -> (needs a gradient, storage key)
        self._keep: list[object] = []  # keeps every tracked tensor alive, so no id is reused

    def track(self, t: object, field: SpatialField | None, depends: bool, needs: bool = False,
              key: object = None) -> None:
        if isinstance(t, Tensor):
            self.fields[id(t)] = (field, depends)
            self.grads[id(t)] = (needs, key if key is not None else object())
            self._keep.append(t)

    def field_of(self, t: object) -> tuple[SpatialField | None, bool]:
        return self.fields.get(id(t), (None, False)) if isinstance(t, Tensor) else (None, False)

    def grad_of(self, t: Tensor) -> tuple[bool, object]:
        """(needs a gradient, storage key); an untracked parameter or buffer has no key (not an activation)."""
        if id(t) in self.grads:
            return self.grads[id(t)]
        return t.requires_grad, None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            self._visit(func, args, kwargs, out)
        return out

    def _visit(self, func, args: tuple, kwargs: dict, out: object) -> None:  # noqa: ANN001
        name = func._overloadpacket.__name__
        rule = function_rule(func._overloadpacket) or function_rule(func) or aten_rule(name) or (
            aten_rule(name[:-1]) if name.endswith("_") else None)  # in-place variants: add_, relu_ ...
        call = Call(func, args, kwargs, output=out)
        macs: dict = {}
        ops: dict = {}
        spec = None
        if rule is not None:
            macs, ops = check_costs(rule, f"{self.where}: aten.{name}", rule.cost(call))
            if rule.field is not None and call.out is not None:
                spec = check_field(rule, f"{self.where}: aten.{name}", rule.field(call))
        elif not getattr(func, "is_view", False):
            self.unsupported[f"aten.{name}"] += 1
        self.macs.update(macs)
        self.ops.update(ops)
        tensors = [a for a in pytree.tree_leaves((args, kwargs)) if isinstance(a, Tensor)]
        inputs = [(t, *self.field_of(t)) for t in tensors]
        depends = any(d for _, _, d in inputs)
        field, notes = propagate(spec, inputs, call.out) if depends else (None, [])
        self.notes.extend(notes)
        grads = [self.grad_of(t) for t in tensors]
        needs = tuple(n for n, _ in grads)
        aliased = func._schema.returns and func._schema.returns[0].alias_info is not None and grads
        out_key = grads[0][1] if aliased else object()
        if any(needs) and rule is not None:
            self.grad_macs.update(grad_macs(rule, call, macs, needs))
            entries = saved_entries(rule, call, needs, tensors, [k for _, k in grads], out_key)
            if entries is None:
                self.train_unsupported[f"aten.{name}"] += 1
            else:
                self.saved.extend(entries)
        for o in pytree.tree_leaves(out):
            self.track(o, field if o is call.out else None, depends, any(needs), out_key if o is call.out else None)
        if self.on_op is not None and (macs or ops or rule is None or field is not None):
            self.on_op(name, rule, macs, ops, field, notes, out)


def run_under(walk: AtenWalk, inputs: list[tuple[Tensor, SpatialField | None, bool]],
              run: Callable[[], object], grads: list[tuple[bool, object]] | None = None) -> object:
    """Run ``run()`` under ``walk`` with the input tensors' fields (and gradient needs, storage keys) registered."""
    for i, (t, field, depends) in enumerate(inputs):
        needs, key = grads[i] if grads is not None else (False, None)
        walk.track(t, field, depends, needs, key)
    with torch.no_grad(), walk:
        return run()


__all__.append("run_under")
