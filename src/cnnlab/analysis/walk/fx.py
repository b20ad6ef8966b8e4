"""Walk a network's ``torch.fx`` graph on the meta device: shapes, costs, fields and tensor liveness.

The model walked is inspect's meta copy (:mod:`~cnnlab.analysis.walk.meta_copy`), never the user's module.
Modules with a rule are fx leaves, and so are modules that subclass a ruled module but override its
forward (timm's ``Conv2dSame`` pads inside its forward): those are walked op by op at aten level, like
torch.nn modules and functions with no rule. Every call goes through :class:`~cnnlab.analysis.walk.core.Core`.
"""

from __future__ import annotations

import operator
import re
from collections import Counter

import torch
from torch import Tensor, fx, nn

from cnnlab.analysis.rules import functions as function_rules
from cnnlab.analysis.rules.base import (
    Call,
    first_tensor,
    function_rule,
    has_rule_base,
    method_rule,
    module_rule,
)
from cnnlab.analysis.walk.core import Core, check_input, describe_shapes
from cnnlab.analysis.walk.field import input_field
from cnnlab.analysis.walk.steps import Walk, tensor_bytes
from cnnlab.errors import ConfigError

__all__ = ["LeafTracer", "SingleUnit", "walk_fx", "WalkFailed"]

_INPLACE_FUNCTIONS = {operator.iadd, operator.isub, operator.imul, operator.itruediv}


class WalkFailed(Exception):
    """The graph could not be walked on meta tensors; the caller falls back to hooks."""


class LeafTracer(fx.Tracer):
    """fx tracer whose leaves are the modules with a rule, their forward-overriding subclasses, and torch.nn's."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (module_rule(type(m)) is not None or has_rule_base(type(m))
                or super().is_leaf_module(m, module_qualified_name))


def _owner(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return ""
    return next(reversed(stack.values()))[0]


def _label(node: fx.Node) -> str:
    owner = _owner(node)
    base = re.sub(r"_\d+$", "", node.name)
    return f"{owner}.{base}" if owner else base


def _target_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


class _FxWalker:
    def __init__(self, model: nn.Module, graph: fx.Graph, args: tuple, kwargs: dict) -> None:
        self.model, self.graph, self.args, self.kwargs = model, graph, list(args), dict(kwargs)
        self.modules = dict(model.named_modules())
        self.core = Core("fx")
        self.env: dict[fx.Node, object] = {}
        self.fields: dict[fx.Node, object] = {}
        self.depends: dict[fx.Node, bool] = {}
        self.needs: dict[fx.Node, bool] = {}  # whether the value needs a gradient in a training step
        self.storage: dict[fx.Node, fx.Node] = {}  # node -> node that allocated its memory (inference)
        self.train_storage: dict[fx.Node, fx.Node] = {}  # the same in a training step (dropout copies)
        self.order: dict[fx.Node, int] = {}

    # --- values -------------------------------------------------------------------------------
    def _placeholder(self, node: fx.Node) -> object:
        name = str(node.target).lstrip("*")
        if name in self.kwargs:
            return self.kwargs.pop(name)
        if self.args:
            return self.args.pop(0)
        if node.args:
            return node.args[0]
        raise ConfigError(f"model.forward needs an input {name!r}; pass it with input_data=")

    def _get_attr(self, node: fx.Node) -> object:
        value: object = self.model
        for part in str(node.target).split("."):
            value = getattr(value, part)
        return value

    def _run_call(self, node: fx.Node, args: tuple, kwargs: dict) -> object:
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        self_obj, *rest = args
        return getattr(self_obj, node.target)(*rest, **kwargs)

    # --- the walk -----------------------------------------------------------------------------
    def run(self) -> Walk:
        self.order = {n: i for i, n in enumerate(self.graph.nodes)}
        with torch.no_grad():
            for node in self.graph.nodes:
                self._visit(node)
        self._liveness()
        self._reported_field()
        return self.core.walk

    def _inputs(self, node: fx.Node) -> tuple[list, list, list]:
        """(tensor, field, depends on the image) of each tensor input of ``node``, in argument order;
        (needs a gradient, storage key) of each, parameters and buffers with no key (not activations); and
        the bytes of each one's storage."""
        inputs, grads, sizes = [], [], []
        for n in node.all_input_nodes:
            value = first_tensor(self.env.get(n))
            if value is not None:
                inputs.append((value, self.fields.get(n), self.depends.get(n, False)))
                owner = self.train_storage.get(n, self.storage.get(n))
                grads.append((self.needs.get(n, False), None if owner is None or owner.op == "get_attr" else owner))
                sizes.append(tensor_bytes(first_tensor(self.env.get(owner))) if owner is not None else 0)
        return inputs, grads, sizes

    def _visit(self, node: fx.Node) -> None:
        if node.op == "output":
            self.env[node] = None
            return
        if node.op in ("placeholder", "get_attr"):
            value = self._placeholder(node) if node.op == "placeholder" else self._get_attr(node)
            self.env[node], self.storage[node] = value, node
            image = node.op == "placeholder" and isinstance(value, Tensor) and value.is_floating_point()
            self.depends[node] = image
            self.needs[node] = isinstance(value, Tensor) and value.requires_grad
            self.fields[node] = input_field(value) if image else None
            return
        args = fx.node.map_arg(node.args, self.env.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, self.env.__getitem__)
        self.depends[node] = any(self.depends.get(n, False) for n in node.all_input_nodes)
        if node.op == "call_module":
            self._visit_module(node, args, kwargs)
        else:
            self._visit_function(node, args, kwargs)

    def _visit_module(self, node: fx.Node, args: tuple, kwargs: dict) -> None:
        path = str(node.target)
        module = self.modules[path]
        check_input(path, module, first_tensor(args))
        rule = module_rule(type(module))
        call = Call(type(module), args, kwargs, module=module)

        def run() -> object:
            try:
                return module(*args, **kwargs)
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"layer {path!r} ({type(module).__name__}) cannot run on input shape "
                                  f"{describe_shapes(args)}: {exc}") from None

        inplace = bool(getattr(module, "inplace", False))
        kind = rule.kind if rule is not None else None
        key = self._own(node, alias=inplace or kind in ("shape", "dropout"))  # inference: dropout is the identity
        inputs, grads, sizes = self._inputs(node)
        if kind == "dropout":  # training: a new tensor
            key = self.train_storage[node] = node
        out, field, step = self.core.call(path, type(module).__name__, rule, call, inputs, run, grads=grads,
                                          out_key=key, sizes=sizes)
        self._check_not_empty(path, type(module).__name__, first_tensor(args), out)
        self._set(node, out, field, step)

    def _visit_function(self, node: fx.Node, args: tuple, kwargs: dict) -> None:
        name = _target_name(node)
        if node.op == "call_function":
            rule = function_rule(node.target)
            view = node.target in function_rules.VIEW_FUNCTIONS
            inplace = node.target in _INPLACE_FUNCTIONS
        else:
            rule = method_rule(name)
            view = name in function_rules.VIEW_METHODS
            inplace = name.endswith("_")
        if name in ("contiguous", "reshape", "flatten") and not getattr(first_tensor(args), "is_contiguous", bool)():
            view = False  # a non-contiguous tensor is copied
        call = Call(node.target, args, kwargs)

        def run() -> object:
            try:
                return self._run_call(node, args, kwargs)
            except ConfigError:
                raise
            except Exception as exc:
                raise WalkFailed(f"{node.format_node()} failed on meta tensors ({describe_shapes(args)}): "
                                 f"{exc}") from exc

        quiet = rule is not None and rule.kind in ("shape", "pad", "dropout")  # moves data only: no row
        key = self._own(node, alias=view or inplace or bool(kwargs.get("inplace", False)))
        if rule is not None and rule.kind == "dropout":
            key = self.train_storage[node] = node
        inputs, grads, sizes = self._inputs(node)
        out, field, step = self.core.call(_label(node), name, rule, call, inputs, run, row=not quiet, grads=grads,
                                          out_key=key, sizes=sizes)
        self._set(node, out, field, step)

    @staticmethod
    def _check_not_empty(path: str, type_name: str, x: Tensor | None, out: object) -> None:
        t = first_tensor(out)
        if t is not None and t.numel() == 0 and x is not None and x.numel() > 0:
            raise ConfigError(f"layer {path!r} ({type_name}): input shape {tuple(x.shape)} gives output shape "
                              f"{tuple(t.shape)}: a feature map reached 0, the input is too small for this network")

    def _own(self, node: fx.Node, alias: bool) -> fx.Node:
        """The node that owns ``node``'s memory: its first tensor input's owner for a view or in-place op."""
        ins = [n for n in node.all_input_nodes if isinstance(self.env.get(n), (Tensor, tuple, list))]
        self.storage[node] = self.storage[ins[0]] if alias and ins else node
        if alias and ins and ins[0] in self.train_storage:
            self.train_storage[node] = self.train_storage[ins[0]]
        return self.train_storage.get(node, self.storage[node])

    def _set(self, node: fx.Node, out: object, field: object, step: object) -> None:
        self.env[node], self.fields[node] = out, field
        self.needs[node] = step.needs_grad
        if self.storage[node] is not node:
            step.out_bytes = 0

    # --- the reported field and memory --------------------------------------------------------
    def _reported_field(self) -> None:
        """The field of the latest node with spatial extent that the model's (first) output depends on."""
        output = next((n for n in self.graph.nodes if n.op == "output"), None)
        if output is None:
            return
        first = next((n for n in output.all_input_nodes if first_tensor(self.env.get(n)) is not None), None)
        ancestors, stack = set(), [first] if first is not None else []
        while stack:
            n = stack.pop()
            if n not in ancestors:
                ancestors.add(n)
                stack.extend(n.all_input_nodes)
        best = max((n for n in ancestors if self.fields.get(n) is not None and n.op != "placeholder"),
                   key=self.order.__getitem__, default=None)
        if best is not None:
            path = str(best.target) if best.op == "call_module" else _label(best)
            self.core.walk.last_field = (self.fields[best], path)

    def _liveness(self) -> None:
        """Peak of live activation memory, freeing each allocation after its last reader."""
        order = self.order
        last_use: dict[fx.Node, int] = {}
        for node, owner in self.storage.items():
            end = max((order[u] for u in node.users), default=order[node])
            last_use[owner] = max(last_use.get(owner, 0), end, order[node])
        frees: dict[int, list[fx.Node]] = {}
        for owner, end in last_use.items():
            frees.setdefault(end, []).append(owner)
        live = peak = total = 0
        for node in self.graph.nodes:
            if self.storage.get(node) is node and node.op != "get_attr":
                size = tensor_bytes(self.env.get(node))
                live += size
                if node.op != "placeholder":
                    total += size
            peak = max(peak, live)
            for owner in frees.get(order[node], ()):
                if owner.op != "get_attr":
                    live -= tensor_bytes(self.env.get(owner))
        self.core.walk.activation_bytes, self.core.walk.peak_activation_bytes = total, peak


class SingleUnit(nn.Module):
    """Holds one unit so that fx sees it as a leaf call; the child is named after its type."""

    def __init__(self, unit: nn.Module) -> None:
        super().__init__()
        self.unit_name = type(unit).__name__.lower()
        self.add_module(self.unit_name, unit)

    def forward(self, x: Tensor) -> object:
        return getattr(self, self.unit_name)(x)


def walk_fx(model: nn.Module, args: tuple, kwargs: dict) -> Walk:
    """Trace ``model`` (inspect's meta copy) with fx and walk the graph on the meta inputs.

    Raises :class:`WalkFailed` when tracing or a non-unit op fails; ConfigError for bad input shapes.
    """
    if module_rule(type(model)) is not None or has_rule_base(type(model)):
        model = SingleUnit(model)  # a single unit: walk it as the only child of a wrapper
    try:
        graph = LeafTracer().trace(model)
    except ConfigError:
        raise
    except Exception as exc:
        raise WalkFailed(f"torch.fx could not trace {type(model).__name__}: {exc}") from exc
    walk = _FxWalker(model, graph, args, kwargs).run()
    walk.unsupported = Counter(walk.unsupported)
    return walk
