"""Walk a network's ``torch.fx`` graph on the meta device: shapes, costs, fields and tensor liveness.

Units (modules with a rule in :mod:`module_rules`, and torch.nn modules) are fx leaves. Each leaf
runs as a *shadow*: a shallow copy of the module whose parameters and buffers are meta tensors and
whose hooks are empty, so no weight is copied, no activation is allocated and the user's module is
never touched.
"""

from __future__ import annotations

import operator
import re
from collections import Counter, OrderedDict

import torch
from torch import Tensor, fx, nn

from cnnlab.analysis import field_flow as flow
from cnnlab.analysis.aten_counter import AtenCounter
from cnnlab.analysis.field import INPUT_FIELD
from cnnlab.analysis.function_rules import (
    FUNCTION_RULES,
    METHOD_RULES,
    SHAPE_ONLY_FUNCTIONS,
    SHAPE_ONLY_METHODS,
    VIEW_FUNCTIONS,
    VIEW_METHODS,
)
from cnnlab.analysis.module_rules import PASS, check_input, pool_window, rule_for
from cnnlab.analysis.steps import Step, Walk, first_tensor, tensor_bytes
from cnnlab.errors import ConfigError

__all__ = ["LeafTracer", "walk_fx", "WalkFailed", "meta_shadow", "run_leaf"]

_SAME_SHAPE = (nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish,
               nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Identity, nn.Dropout, nn.LeakyReLU, nn.GroupNorm)
_INPLACE_FUNCTIONS = {operator.iadd, operator.isub, operator.imul, operator.itruediv}


class WalkFailed(Exception):
    """The graph could not be walked on meta tensors; the caller falls back to hooks."""


class LeafTracer(fx.Tracer):
    """fx tracer whose leaves are the modules inspect has a rule for, plus torch.nn's own modules."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return rule_for(type(m)) is not None or super().is_leaf_module(m, module_qualified_name)


def meta_shadow(module: nn.Module) -> nn.Module:
    """A copy of ``module`` sharing nothing mutable with it, with meta parameters and no hooks."""
    cls = type(module)
    shadow = cls.__new__(cls)
    state = module.__dict__.copy()
    state["_parameters"] = {k: None if p is None else torch.empty_like(p, device="meta")
                            for k, p in module._parameters.items()}
    state["_buffers"] = {k: None if b is None else torch.empty_like(b, device="meta")
                         for k, b in module._buffers.items()}
    state["_modules"] = {k: None if c is None else meta_shadow(c) for k, c in module._modules.items()}
    for key, value in state.items():
        if key.endswith("hooks") and isinstance(value, dict):
            state[key] = OrderedDict()
    object.__setattr__(shadow, "__dict__", state)
    return shadow


def _shapes(values: object) -> str:
    shapes = [tuple(v.shape) for v in (values if isinstance(values, (tuple, list)) else [values])
              if isinstance(v, Tensor)]
    return ", ".join(str(s) for s in shapes) or "no tensors"


def _window_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # torch: the last window must start inside the input
        out -= 1
    return out


def _fast_shape(module: nn.Module, x: Tensor) -> tuple[int, ...] | None:
    """Output shape of the commonest windowed units by formula (torch's meta kernels are Python, slow)."""
    if type(module) in (nn.Linear, nn.modules.linear.NonDynamicallyQuantizableLinear):
        return (*x.shape[:-1], module.out_features)
    if type(module) is nn.LayerNorm and tuple(x.shape[-len(module.normalized_shape):]) == module.normalized_shape:
        return tuple(x.shape)
    if x.dim() != 4:
        return None
    if type(module) is nn.Conv2d and not isinstance(module.padding, str):
        k, s, p, d = module.kernel_size, module.stride, module.padding, module.dilation
        c, ceil = module.out_channels, False
    elif type(module) in (nn.MaxPool2d, nn.AvgPool2d) and not getattr(module, "return_indices", False):
        k, s, p, d = pool_window(module)
        c, ceil = x.shape[1], module.ceil_mode
    else:
        return None
    h = _window_size(x.shape[2], k[0], s[0], p[0], d[0], ceil)
    w = _window_size(x.shape[3], k[1], s[1], p[1], d[1], ceil)
    return (x.shape[0], c, h, w)


def run_leaf(path: str, module: nn.Module, args: tuple, kwargs: dict) -> object:
    """Output of one unit on meta tensors; bad shapes become a ConfigError naming the layer."""
    x = first_tensor(args)
    check_input(path, module, x)
    if isinstance(module, _SAME_SHAPE) and len(args) == 1 and not kwargs:
        return x
    if x is not None and x.is_meta and len(args) == 1 and not kwargs:
        shape = _fast_shape(module, x)
        if shape is not None and min(shape) > 0:
            return torch.empty(shape, dtype=x.dtype, device="meta")
    try:
        out = meta_shadow(module).forward(*args, **kwargs)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"layer {path!r} ({type(module).__name__}) cannot run on input shape {_shapes(args)}: {exc}"
        ) from None
    t = first_tensor(out)
    if t is not None and t.numel() == 0 and x is not None and x.numel() > 0:
        raise ConfigError(
            f"layer {path!r} ({type(module).__name__}): input shape {tuple(x.shape)} gives output shape "
            f"{tuple(t.shape)}: a feature map reached 0, the input is too small for this network"
        )
    return out


def _elementwise_out(node: fx.Node, name: str, args: tuple) -> object:
    """Broadcast result of an element-wise op on meta tensors, without torch's Python meta kernels."""
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors or not all(t.is_meta for t in tensors) or not all(isinstance(a, (Tensor, int, float)) for a in args):
        return node.target(*args) if node.op == "call_function" else getattr(args[0], node.target)(*args[1:])
    if node.op == "call_method" and name.endswith("_") or node.target in _INPLACE_FUNCTIONS and isinstance(args[0], Tensor):
        return args[0]
    shape = torch.broadcast_shapes(*(t.shape for t in tensors))
    dtype = torch.result_type(*args[:2]) if len(args) >= 2 else tensors[0].dtype
    return torch.empty(shape, dtype=dtype, device="meta")


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
    def __init__(self, model: nn.Module, graph: fx.Graph, x: Tensor) -> None:
        self.model, self.graph, self.x = model, graph, x
        self.modules = dict(model.named_modules())
        self.env: dict[fx.Node, object] = {}
        self.carried: dict[fx.Node, flow.Carried | None] = {}
        self.depends: dict[fx.Node, bool] = {}
        self.storage: dict[fx.Node, fx.Node] = {}  # node -> node that allocated its memory
        self.seen_params: set[int] = set()
        self.walk = Walk(steps=[], traced_with="fx")
        self.inputs_seen = 0

    # --- values -------------------------------------------------------------------------------
    def _placeholder(self, node: fx.Node) -> object:
        self.inputs_seen += 1
        if self.inputs_seen == 1:
            return self.x
        if node.args:
            return node.args[0]
        raise ConfigError(f"model.forward needs an extra input {node.target!r}; inspect feeds one tensor")

    def _get_attr(self, node: fx.Node) -> object:
        value: object = self.model
        for part in str(node.target).split("."):
            value = getattr(value, part)
        return torch.empty_like(value, device="meta") if isinstance(value, Tensor) else value

    def _call(self, node: fx.Node, args: tuple, kwargs: dict) -> object:
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        self_obj, *rest = args
        return getattr(self_obj, node.target)(*rest, **kwargs)

    # --- one node -----------------------------------------------------------------------------
    def run(self) -> Walk:
        order = {n: i for i, n in enumerate(self.graph.nodes)}
        with torch.no_grad():
            for node in self.graph.nodes:
                self._visit(node)
        self._liveness(order)
        return self.walk

    def _tensor_inputs(self, node: fx.Node) -> list[fx.Node]:
        return [n for n in node.all_input_nodes if isinstance(self.env.get(n), (Tensor, tuple, list))]

    def _visit(self, node: fx.Node) -> None:
        op = node.op
        if op == "output":
            self.env[node] = None
            return
        if op == "placeholder":
            value = self._placeholder(node)
            self.env[node], self.depends[node] = value, True
            self.carried[node] = flow.Carried(INPUT_FIELD) if isinstance(value, Tensor) and value.dim() == 4 else None
            self.storage[node] = node
            return
        if op == "get_attr":
            self.env[node], self.depends[node], self.carried[node] = self._get_attr(node), False, None
            self.storage[node] = node
            return
        args = fx.node.map_arg(node.args, self.env.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, self.env.__getitem__)
        self.depends[node] = any(self.depends.get(n, False) for n in node.all_input_nodes)
        if op == "call_module":
            self._visit_module(node, args, kwargs)
        else:
            self._visit_function(node, args, kwargs)

    def _visit_module(self, node: fx.Node, args: tuple, kwargs: dict) -> None:
        path = str(node.target)
        module = self.modules[path]
        rule = rule_for(type(module))
        if rule is not None:
            out = run_leaf(path, module, args, kwargs)
            macs, ops = rule.cost(module, args, out)
        else:
            counter = AtenCounter()
            with counter:
                out = run_leaf(path, module, args, kwargs)
            macs, ops = dict(counter.macs), dict(counter.ops)
            for name, count in counter.unsupported.items():
                self.walk.unsupported[f"{type(module).__name__}:{name}"] += count
        self.env[node] = out
        inplace = bool(getattr(module, "inplace", False))
        self._set_storage(node, alias=inplace or (rule is not None and rule.kind == "shape"))
        params = 0
        for p in module.parameters():
            if id(p) not in self.seen_params:
                self.seen_params.add(id(p))
                params += p.numel()
        notes: list[str] = []
        carried = self._module_field(node, module, rule, out, notes)
        kind = rule.kind if rule is not None else "other"
        self._record(node, path, type(module).__name__, kind, out, params, macs, ops, carried, notes)

    def _module_field(self, node, module, rule, out, notes) -> flow.Carried | None:  # noqa: ANN001
        t = first_tensor(out)
        ins = self._tensor_inputs(node)
        if t is None or not ins:
            return None
        first = ins[0]
        carried = self.carried.get(first)
        if rule is not None and carried is not None and carried.axes == flow.NCHW:
            result = rule.field(module, carried.field, first_tensor(self.env[first]), t)
            if result != PASS:
                return flow.Carried(result) if result is not None else None
        return self._generic_field(node, t, notes)

    def _generic_field(self, node: fx.Node, out: Tensor, notes: list[str]) -> flow.Carried | None:
        inputs = []
        for n in self._tensor_inputs(node):
            value = self.env[n]
            if isinstance(value, (tuple, list)):
                value = first_tensor(value)
            if isinstance(value, Tensor):
                inputs.append((value, self.carried.get(n), self.depends.get(n, False)))
        carried, new_notes = flow.flow(inputs, out)
        notes.extend(new_notes)
        return carried

    def _visit_function(self, node: fx.Node, args: tuple, kwargs: dict) -> None:
        name = _target_name(node)
        if node.op == "call_function":
            rule = FUNCTION_RULES.get(node.target)
            shape_only = node.target in SHAPE_ONLY_FUNCTIONS
            view = node.target in VIEW_FUNCTIONS
        else:
            rule = METHOD_RULES.get(name)
            shape_only = name in SHAPE_ONLY_METHODS
            view = name in VIEW_METHODS
        counter = None
        try:
            if rule is not None and rule.kind in ("add", "mul") and not kwargs:
                out = _elementwise_out(node, name, args)
            elif rule is None and not shape_only:
                counter = AtenCounter()
                with counter:
                    out = self._call(node, args, kwargs)
            else:
                out = self._call(node, args, kwargs)
        except ConfigError:
            raise
        except Exception as exc:
            raise WalkFailed(f"{node.format_node()} failed on meta tensors ({_shapes(args)}): {exc}") from exc
        self.env[node] = out
        inplace = node.target in _INPLACE_FUNCTIONS or (node.op == "call_method" and name.endswith("_"))
        self._set_storage(node, alias=view or inplace or bool(kwargs.get("inplace", False)))
        t = first_tensor(out)
        if t is None:
            self.carried[node] = None
            return
        notes: list[str] = []
        carried = self._function_field(node, name, rule, args, kwargs, t, notes)
        if rule is not None:
            macs, ops = rule.cost(args, kwargs, out)
            self._record(node, _label(node), name, rule.kind, out, 0, macs, ops, carried, notes)
        elif counter is not None:
            for aten_name, count in counter.unsupported.items():
                self.walk.unsupported[f"{name}:{aten_name}"] += count
            if not counter.macs and not counter.ops and not counter.unsupported:
                self.carried[node] = carried
                return
            self._record(node, _label(node), name, "other", out, 0, dict(counter.macs), dict(counter.ops),
                         carried, notes)
        else:
            self.carried[node] = carried

    def _function_field(self, node, name, rule, args, kwargs, out, notes) -> flow.Carried | None:  # noqa: ANN001
        ins = self._tensor_inputs(node)
        first = ins[0] if ins else None
        carried = self.carried.get(first) if first is not None else None
        x = first_tensor(self.env[first]) if first is not None else None
        if carried is not None and name in ("permute", "transpose") and x is not None:
            dims = [a for a in args[1:] if isinstance(a, int)] or list(args[1] if len(args) > 1 else kwargs["dims"])
            if name == "transpose":
                return flow.transposed_axes(carried, x.dim(), dims[0], dims[1])
            return flow.permuted(carried, x.dim(), dims)
        if rule is not None and rule.field is not None and carried is not None and carried.axes == flow.NCHW:
            result = rule.field(args, kwargs, carried.field, x, out)
            if result != PASS:
                return flow.Carried(result) if result is not None else None
        return self._generic_field(node, out, notes)

    # --- bookkeeping --------------------------------------------------------------------------
    def _set_storage(self, node: fx.Node, alias: bool) -> None:
        ins = self._tensor_inputs(node)
        self.storage[node] = self.storage[ins[0]] if alias and ins else node

    def _record(self, node, path, type_name, kind, out, params, macs, ops, carried, notes) -> None:  # noqa: ANN001
        self.carried[node] = carried
        t = first_tensor(out)
        field = carried.field if carried is not None else None
        if carried is not None and t is not None:
            hw = (int(t.shape[carried.axes[0]]), int(t.shape[carried.axes[1]]))
            self.walk.last_field = (field, hw, path)
        for note in notes:
            self.walk.warnings.append(f"{path}: {note}")
        alias = self.storage.get(node) is not node
        self.walk.steps.append(Step(
            path=path, type=type_name, kind=kind, shape=tuple(t.shape) if t is not None else None,
            params=params, macs=macs, ops=ops, field=field,
            out_bytes=0 if alias else tensor_bytes(out), notes=notes,
        ))

    def _liveness(self, order: dict[fx.Node, int]) -> None:
        """Peak of live activation memory, freeing each allocation after its last reader."""
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
        self.walk.activation_bytes, self.walk.peak_activation_bytes = total, peak


class _Single(nn.Module):
    """Holds one unit so that fx sees it as a leaf call; the child is named after its type."""

    def __init__(self, unit: nn.Module) -> None:
        super().__init__()
        self.unit_name = type(unit).__name__.lower()
        self.add_module(self.unit_name, unit)

    def forward(self, x: Tensor) -> object:
        return getattr(self, self.unit_name)(x)


def walk_fx(model: nn.Module, x: Tensor) -> Walk:
    """Trace ``model`` with fx and walk the graph on the meta tensor ``x``.

    Raises :class:`WalkFailed` when tracing or a non-unit op fails; ConfigError for bad input shapes.
    """
    if rule_for(type(model)) is not None:  # a single unit: walk it as the only child of a wrapper
        model = _Single(model)
    try:
        graph = LeafTracer().trace(model)
    except ConfigError:
        raise
    except Exception as exc:
        raise WalkFailed(f"torch.fx could not trace {type(model).__name__}: {exc}") from exc
    walker = _FxWalker(model, graph, x)
    walk = walker.run()
    walk.unsupported = Counter(walk.unsupported)
    return walk
