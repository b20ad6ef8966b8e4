"""Run a network's fx graph unit by unit on real tensors: record each unit's call, and time each unit.

The graph is traced with inspect's own tracer (:class:`~cnnlab.analysis.walk.fx.LeafTracer`: the modules
with a rule are leaves), so its call nodes are, one for one and in order, the steps inspect walks; the
profile's rows are inspect's rows. The network run is a real copy of the model (weights copied, hooks
dropped: :func:`~cnnlab.analysis.walk.meta_copy.meta_copy` with ``device="cpu"``), so the model itself is
never touched.

Two ways to time a unit (the median over repeats after warm-up either way):

- ``inline``: whole passes of the graph, each unit stamped with ``time.perf_counter`` (the clock of
  :mod:`cnnlab.timing`) as it runs in its place, on the data and caches the real forward leaves it; the
  passes alternate with forwards of the whole network (:func:`cnnlab.timing.interleaved_median_seconds`), so
  load from other processes falls on both alike.
- ``isolated``: each unit alone, called again and again on its recorded input
  (:func:`cnnlab.timing.median_seconds`); its input stays in cache between calls, so small units look
  faster than they are in the network. The backward pass (``--backward``) is always timed this way.
"""

from __future__ import annotations

import operator
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, fx, nn
from torch.utils import _pytree as pytree

from cnnlab.analysis.rules.base import Call, has_rule_base, module_rule
from cnnlab.analysis.walk.fx import LeafTracer, SingleUnit
from cnnlab.analysis.walk.meta_copy import meta_copy
from cnnlab.errors import ConfigError
from cnnlab.timing import interleaved_median_seconds, median_seconds, pinned_threads

__all__ = ["CALL_OPS", "GraphRun", "Recorded", "node_values"]

CALL_OPS = ("call_module", "call_function", "call_method")
_INPLACE = {operator.iadd, operator.isub, operator.imul, operator.itruediv}


@dataclass
class Recorded:
    """One call node's real call: its arguments and output (for bytes and isolated timing)."""

    node: fx.Node
    call: Call


def _real_copy(model: nn.Module) -> nn.Module:
    tensors = [*model.parameters(), *model.buffers()]
    if any(t.is_meta for t in tensors):
        raise ConfigError(f"{type(model).__name__} has weights on the meta device (no values): profile runs the "
                          "network for real, build it on the CPU")
    if any(t.device.type != "cpu" for t in tensors):
        raise ConfigError(f"{type(model).__name__} has weights on {tensors[0].device}: profile times the CPU; "
                          "move the model to the CPU first")
    copy = meta_copy(model, device="cpu")
    copy.eval()  # inference; the backward too runs with batch norm's running statistics (buffers untouched)
    return SingleUnit(copy) if module_rule(type(copy)) is not None or has_rule_base(type(copy)) else copy


class GraphRun:
    """A real copy of ``model`` as an fx GraphModule, run node by node on ``x``."""

    def __init__(self, model: nn.Module, x: Tensor) -> None:
        root = _real_copy(model)
        try:
            graph = LeafTracer().trace(root)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever fx refuses (data-dependent control flow ...)
            raise ConfigError(f"profile needs a model torch.fx can trace; {type(model).__name__} cannot be traced "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
        self.module = fx.GraphModule(root, graph)
        self.graph, self.x = graph, x
        self.nodes = list(graph.nodes)
        self.calls = [n for n in self.nodes if n.op in CALL_OPS]
        self.submodules = dict(self.module.named_modules())
        index = {n: i for i, n in enumerate(self.nodes)}
        last: dict[fx.Node, int] = {}
        for n in self.nodes:
            for u in n.users:
                last[n] = max(last.get(n, 0), index[u])
        self.frees: dict[fx.Node, list[fx.Node]] = {}
        for n, i in last.items():
            self.frees.setdefault(self.nodes[i], []).append(n)

    # --- one node ------------------------------------------------------------------------------
    def target(self, node: fx.Node) -> Callable[..., object]:
        if node.op == "call_module":
            return self.submodules[str(node.target)]
        if node.op == "call_function":
            return node.target
        name = str(node.target)
        return lambda obj, *a, **k: getattr(obj, name)(*a, **k)

    def module_of(self, node: fx.Node) -> nn.Module | None:
        return self.submodules[str(node.target)] if node.op == "call_module" else None

    def _value(self, node: fx.Node, env: dict) -> object:
        if node.op == "placeholder":
            return self.x
        if node.op == "get_attr":
            value: object = self.module
            for part in str(node.target).split("."):
                value = getattr(value, part)
            return value
        return None

    def inplace(self, node: fx.Node) -> bool:
        if node.op == "call_module":
            return bool(getattr(self.module_of(node), "inplace", False))
        if node.op == "call_method":
            return str(node.target).endswith("_")
        return node.target in _INPLACE or bool(node.kwargs.get("inplace", False))

    # --- passes --------------------------------------------------------------------------------
    def record(self) -> list[Recorded]:
        """One untimed forward keeping every call's arguments and output (each output a fresh value)."""
        env: dict[fx.Node, object] = {}
        out = []
        with torch.no_grad():  # plain tensors (not inference ones): the backward timing builds graphs on them
            for node in self.nodes:
                if node.op == "output":
                    break
                if node.op not in CALL_OPS:
                    env[node] = self._value(node, env)
                    continue
                args = fx.node.map_arg(node.args, env.__getitem__)
                kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
                if self.inplace(node):  # keep the input as it was for the isolated timing and the bytes
                    args, kwargs = pytree.tree_map(lambda v: v.clone() if isinstance(v, Tensor) else v,
                                                   (args, kwargs))
                env[node] = self.target(node)(*args, **kwargs)
                out.append(Recorded(node, Call(node.target, tuple(args), dict(kwargs), module=self.module_of(node),
                                               output=env[node])))
        return out

    def _timed_pass(self, times: dict[fx.Node, list[float]]) -> None:
        env: dict[fx.Node, object] = {}
        clock = time.perf_counter
        for node in self.nodes:
            if node.op == "output":
                break
            if node.op in CALL_OPS:
                fn = self.target(node)
                args = fx.node.map_arg(node.args, env.__getitem__)
                kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
                start = clock()
                env[node] = fn(*args, **kwargs)
                del args, kwargs  # inputs read for the last time are freed within the unit, as in eager mode
                for dead in self.frees.get(node, ()):
                    env.pop(dead, None)
                times[node].append(clock() - start)
            else:
                env[node] = self._value(node, env)

    def time_inline(self, repeats: int, warmup: int, threads: int | None) -> tuple[dict[fx.Node, float], float]:
        """(median seconds of each call node in place, median seconds of the whole network's forward)."""
        times: dict[fx.Node, list[float]] = {n: [] for n in self.calls}
        net = self.module
        with pinned_threads(threads):
            whole = interleaved_median_seconds({"net": lambda: net(self.x), "units": lambda: self._timed_pass(times)},
                                               repeats=repeats, warmup=warmup)["net"]
        return {n: statistics.median(t[-repeats:]) for n, t in times.items()}, whole

    def time_isolated(self, recorded: list[Recorded], repeats: int, warmup: int, threads: int | None,
                      backward: bool) -> tuple[dict[fx.Node, float], float]:
        """(median seconds of each call node run alone on its recorded input, of the whole network); with
        ``backward``, each forward + backward (gradients of every input that needs one and of the weights)."""
        out: dict[fx.Node, float] = {}
        with pinned_threads(threads):
            whole_before = median_seconds(self._whole(backward), repeats, warmup, inference=not backward)
            for rec in recorded:
                fn = self._unit(rec, backward)
                out[rec.node] = median_seconds(fn, repeats, warmup, inference=not backward)
            whole_after = median_seconds(self._whole(backward), repeats, warmup, inference=not backward)
        return out, (whole_before + whole_after) / 2

    # --- callables for the isolated timing -----------------------------------------------------------
    def _whole(self, backward: bool) -> Callable[[], object]:
        net, x = self.module, self.x
        if not backward:
            return lambda: net(x)
        params = [p for p in net.parameters() if p.requires_grad]

        def step() -> object:
            with torch.enable_grad():
                outs = [t for t in pytree.tree_leaves(net(x)) if isinstance(t, Tensor) and t.requires_grad]
                return torch.autograd.grad(outs, params, [torch.ones_like(t) for t in outs], allow_unused=True)

        return step

    def _unit(self, rec: Recorded, backward: bool) -> Callable[[], object]:
        fn = self.target(rec.node)
        args, kwargs = rec.call.args, rec.call.kwargs
        if not backward:
            return lambda: fn(*args, **kwargs)
        from_input = {n for n in rec.node.all_input_nodes if n.op in ("placeholder", "get_attr")}
        inputs = [n for n in rec.node.all_input_nodes if n not in from_input]

        def leaf(v: object) -> object:  # an activation that needs its gradient (not the image, not a weight)
            return v.detach().requires_grad_(True) if isinstance(v, Tensor) and v.is_floating_point() else v

        def detach(v: object) -> object:
            return v.detach() if isinstance(v, Tensor) else v

        # each argument by its node: activations from other units become leaves that need a gradient
        values = {n: (leaf if n in inputs else detach)(v) for n, v in
                  zip(rec.node.all_input_nodes, node_values(rec), strict=True)}
        args = fx.node.map_arg(rec.node.args, values.__getitem__)
        kwargs = fx.node.map_arg(rec.node.kwargs, values.__getitem__)
        module = self.module_of(rec.node)
        wanted = [t for t in values.values() if isinstance(t, Tensor) and t.requires_grad]
        wanted += [p for p in (module.parameters() if module is not None else ()) if p.requires_grad]
        copy = self.inplace(rec.node)

        def step() -> object:
            with torch.enable_grad():  # even when the caller profiles under torch.no_grad()
                a, k = (pytree.tree_map(lambda v: v.clone() if isinstance(v, Tensor) else v, (args, kwargs))
                        if copy else (args, kwargs))
                outs = [t for t in pytree.tree_leaves(fn(*a, **k)) if isinstance(t, Tensor) and t.requires_grad]
                if not outs or not wanted:
                    return outs
                return torch.autograd.grad(outs, wanted, [torch.ones_like(t) for t in outs], allow_unused=True)

        return step


def node_values(rec: Recorded) -> list[object]:
    """The recorded value of each of the node's input nodes, in ``all_input_nodes`` order."""
    found: dict[fx.Node, object] = {}

    def visit(arg: object, value: object) -> None:
        if isinstance(arg, fx.Node):
            found.setdefault(arg, value)
        elif isinstance(arg, (tuple, list)):
            for a, v in zip(arg, value, strict=True):
                visit(a, v)
        elif isinstance(arg, dict):
            for key, a in arg.items():
                visit(a, value[key])

    visit(rec.node.args, rec.call.args)
    visit(rec.node.kwargs, rec.call.kwargs)
    return [found[n] for n in rec.node.all_input_nodes]


