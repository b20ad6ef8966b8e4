"""inspect's walk, kept: the report plus, per row, its field, its input shape and the rows it reads.

:func:`cnnlab.inspect` turns its walk into a :class:`~cnnlab.analysis.Report` and drops the walk. The
explorer needs what the report leaves out — each row's full field (``start`` and one period of boxes, for
any unit's box), the row's input shape and the dataflow between rows (to draw branches and shortcuts) — so
it runs the same walk (the same meta copy, the same fx walker, the same hooks fallback) and builds the
report with inspect's own :func:`~cnnlab.analysis.render.report.build_report`: the numbers are inspect's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import fx, nn

from cnnlab.analysis.inspect import parse_input_size
from cnnlab.analysis.render.report import Report, build_report
from cnnlab.analysis.rules.base import first_tensor, has_rule_base, module_rule
from cnnlab.analysis.walk.field import SpatialField
from cnnlab.analysis.walk.fx import LeafTracer, SingleUnit, WalkFailed, _FxWalker
from cnnlab.analysis.walk.meta_copy import meta_copy, no_global_hooks
from cnnlab.analysis.walk.steps import Step, Walk
from cnnlab.errors import ConfigError

__all__ = ["Traced", "TracedRow", "trace"]

INPUT = -1  # the id of the network's input in ``TracedRow.reads``


@dataclass
class TracedRow:
    """What the explorer knows of one report row beyond the row itself."""

    field: SpatialField | None
    in_shape: tuple[int, ...] | None
    reads: tuple[int, ...]  # ids of the rows whose outputs this row reads (INPUT: the network's input)
    module: nn.Module | None  # the unit on the meta copy (its kernel, stride ...), None for a function
    call: fx.Node | None  # the fx node (a function's arguments), None after the hooks walk


@dataclass
class Traced:
    report: Report
    rows: list[TracedRow]  # parallel to report.rows
    modules: dict[str, nn.Module]
    outputs: dict[str, tuple[tuple[int, ...], SpatialField | None]]  # module path -> its last op's output


def _outputs(walk: Walk) -> dict[str, tuple[tuple[int, ...], SpatialField | None]]:
    """Per module path (and "" for the network), the shape and field of the last op inside it — its output,
    also where that op has no row (an Inception block's concatenation)."""
    last: dict[str, tuple[tuple[int, ...], SpatialField | None]] = {}
    for s in walk.steps:
        if s.shape is not None:
            parts = s.path.split(".")
            for k in range(len(parts)):
                last[".".join(parts[:k])] = (s.shape, s.field)
    return last


class _GraphWalker(_FxWalker):
    """The fx walker, noting which step each node made."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.step_of: dict[fx.Node, Step] = {}

    def _set(self, node: fx.Node, out: object, field: object, step: Step) -> None:
        super()._set(node, out, field, step)
        self.step_of[node] = step


def _walk_fx(probe: nn.Module, args: tuple) -> tuple[Walk, _GraphWalker]:
    """:func:`cnnlab.analysis.walk.fx.walk_fx`, keeping the walker."""
    if module_rule(type(probe)) is not None or has_rule_base(type(probe)):
        probe = SingleUnit(probe)
    try:
        graph = LeafTracer().trace(probe)
    except ConfigError:
        raise
    except Exception as exc:
        raise WalkFailed(f"torch.fx could not trace {type(probe).__name__}: {exc}") from exc
    walker = _GraphWalker(probe, graph, args, {})
    walk = walker.run()
    walk.unsupported = Counter(walk.unsupported)
    return walk, walker


def _shape(value: object) -> tuple[int, ...] | None:
    t = first_tensor(value)
    return tuple(t.shape) if t is not None else None


def _fx_rows(walk: Walk, walker: _GraphWalker) -> list[TracedRow]:
    row_id = {id(s): i for i, s in enumerate(s for s in walk.steps if s.row)}
    reads_of: dict[fx.Node, frozenset[int]] = {}  # the rows a node's value comes from
    by_step: dict[int, TracedRow] = {}
    for node in walker.graph.nodes:
        if node.op == "placeholder":
            reads_of[node] = frozenset({INPUT})
            continue
        inputs = frozenset().union(*(reads_of.get(n, frozenset()) for n in node.all_input_nodes))
        step = walker.step_of.get(node)
        if step is None or id(step) not in row_id:
            reads_of[node] = inputs
            continue
        i = row_id[id(step)]
        reads_of[node] = frozenset({i})
        source = next((n for n in node.all_input_nodes if first_tensor(walker.env.get(n)) is not None), None)
        module = walker.modules.get(str(node.target)) if node.op == "call_module" else None
        by_step[i] = TracedRow(step.field, _shape(walker.env.get(source)) if source is not None else None,
                               tuple(sorted(inputs)), module, node if node.op != "call_module" else None)
    return [by_step.get(i, TracedRow(s.field, None, (), None, None))
            for i, s in enumerate(s for s in walk.steps if s.row)]


def _chain_rows(walk: Walk, modules: dict[str, nn.Module]) -> list[TracedRow]:
    """After the hooks walk there is no graph: each row reads the one before it."""
    rows = [s for s in walk.steps if s.row]
    return [TracedRow(s.field, _shape_before(rows, i), (i - 1,) if i else (INPUT,), modules.get(s.path), None)
            for i, s in enumerate(rows)]


def _shape_before(rows: list[Step], i: int) -> tuple[int, ...] | None:
    return rows[i - 1].shape if i else None


def trace(model: nn.Module, input_size: object, name: str | None = None) -> Traced:
    """:func:`cnnlab.inspect` of ``model`` at ``input_size`` (one input), with the walk's extras per row."""
    if not isinstance(model, nn.Module):
        raise ConfigError(f"explore needs an nn.Module, got {type(model).__name__}")
    size = parse_input_size(input_size)
    args = (torch.empty(size, device="meta"),)
    with no_global_hooks():
        probe = meta_copy(model)
        try:
            walk, walker = _walk_fx(probe, args)
            modules = walker.modules
            extras = _fx_rows(walk, walker)
        except WalkFailed as fx_error:
            from cnnlab.analysis.walk.hooks import walk_hooks

            probe = meta_copy(model)
            walk = walk_hooks(model, probe, args, {}, reason=str(fx_error))
            modules = dict(probe.named_modules())
            extras = _chain_rows(walk, modules)
    unique = {id(p): p for p in model.parameters()}.values()
    params = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    report = build_report(name or type(model).__name__, size, walk, params, trainable)
    return Traced(report, extras, modules, _outputs(walk))
