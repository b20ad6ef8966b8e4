"""``cnnlab.profile(model, input_size)``: where a network's time goes, unit by unit, against the roofline."""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from cnnlab.analysis.inspect import inspect, parse_input_size
from cnnlab.analysis.profile.machine import Machine, measure_machine
from cnnlab.analysis.profile.result import GroupProfile, Profile, UnitProfile, cost_of
from cnnlab.analysis.profile.run import GraphRun, node_values
from cnnlab.analysis.profile.traffic import backward_bytes, bytes_moved, plot_kind
from cnnlab.analysis.render.report import Report
from cnnlab.analysis.render.tree import group_rows
from cnnlab.analysis.walk.fx import walk_fx
from cnnlab.analysis.walk.meta_copy import meta_copy
from cnnlab.arith.checks import require_choice, require_non_negative, require_positive
from cnnlab.errors import ConfigError

__all__ = ["METHODS", "profile"]

METHODS = ("inline", "isolated")


def _places(report: Report) -> dict[int, tuple[str, str]]:
    """(stage, block) of each row, by the tree ``cnnlab show`` draws: a top-level child is a stage (a unit at
    the top is its own stage), a stage's child a block (the stage's own units are its block too)."""
    places: dict[int, tuple[str, str]] = {}
    root = group_rows(report)
    for row in root.rows:
        places[id(row)] = (row.path, row.path)

    def under(group, stage: str, block: str) -> None:  # noqa: ANN001 - a tree Group
        for row in group.rows:
            places[id(row)] = (stage, block)
        for child in group.children.values():
            under(child, stage, block)

    for stage_group in root.children.values():
        stage = stage_group.name  # a top-level path (``stages.0`` stays whole)
        for row in stage_group.rows:
            places[id(row)] = (stage, stage)
        for block_group in stage_group.children.values():
            under(block_group, stage, f"{stage}.{block_group.name}")
    return places


def _roll(units: list[UnitProfile], key: str, level: str, machine: Machine) -> list[GroupProfile]:
    groups: dict[str, list[UnitProfile]] = {}
    for u in units:
        groups.setdefault(getattr(u, key), []).append(u)
    return [GroupProfile(name=name, level=level, units=len(us), **cost_of(
        sum(u.macs for u in us), sum(u.flops for u in us), sum(u.bytes for u in us),
        sum(u.latency_s for u in us), machine)) for name, us in groups.items()]


def _load_note(threads: int) -> str | None:
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cpus = os.cpu_count() or 1
    if load > max(0.5, cpus - threads):
        return (f"the machine was busy while this was measured (1-minute load average {load:.2f} on {cpus} "
                f"logical CPUs, {threads} used here): times are noisy and the roofs lower than on an idle machine")
    return None


def profile(model: nn.Module, input_size: object = (1, 3, 224, 224), backward: bool = False, *,
            repeats: int = 20, warmup: int = 3, threads: int | None = None, method: str = "inline",
            machine: Machine | None = None, dtype: torch.dtype = torch.float32, name: str | None = None) -> Profile:
    """Per-unit runtime profile of ``model`` at ``input_size`` on this machine's CPU.

    Every row of :func:`cnnlab.inspect` (a unit, or a function with a rule) gets its MACs and FLOPs
    (inspect's, 2 FLOPs per MAC), the bytes it moves (:mod:`~cnnlab.analysis.profile.traffic`), its
    arithmetic intensity, its measured latency (median of ``repeats`` after ``warmup``; ``method``
    ``"inline"``: each unit timed in its place during whole forwards, ``"isolated"``: each unit alone on its
    recorded input — :mod:`~cnnlab.analysis.profile.run`), the attainable rate ``min(peak, intensity ×
    bandwidth)`` of the roofline (Williams et al. 2009) with both roofs measured now in this process
    (:func:`~cnnlab.analysis.profile.machine.measure_machine`, unless ``machine`` is given) and the share of
    it reached. ``backward=True`` times forward + backward of each unit (isolated) and of the network.
    The model is never touched: a real copy runs, in eval mode.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"profile needs an nn.Module, got {type(model).__name__}")
    size = parse_input_size(input_size)
    require_positive("repeats", repeats, "profile")
    require_non_negative("warmup", warmup, "profile")
    require_choice("method", method, METHODS, "profile")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ConfigError(f"profile: dtype must be a floating-point torch.dtype, got {dtype!r}")
    if machine is not None and not isinstance(machine, Machine):
        raise ConfigError(f"profile: machine must be a cnnlab Machine, got {type(machine).__name__}")
    method = "isolated" if backward else method
    name = name or type(model).__name__
    report = inspect(model, size, dtype=dtype, name=name)
    if report.traced_with != "fx":
        raise ConfigError(f"profile needs a model torch.fx can trace; {name} was walked with {report.traced_with}")
    steps = walk_fx(meta_copy(model), (torch.empty(size, dtype=dtype, device="meta"),), {}).steps
    run = GraphRun(model, torch.randn(size, dtype=dtype))
    if len(run.calls) != len(steps):
        raise ConfigError(f"profile: {name}'s graph has {len(run.calls)} calls but inspect walked {len(steps)}")
    recorded = run.record()
    if method == "inline":
        times, whole_s = run.time_inline(repeats, warmup, threads)
    else:
        times, whole_s = run.time_isolated(recorded, repeats, warmup, threads, backward)
    machine = machine or measure_machine(threads)
    places = _places(report)
    rows = iter(report.rows)
    units, between = [], 0.0
    for rec, step in zip(recorded, steps, strict=True):
        if not step.row:
            between += times[rec.node]
            continue
        row = next(rows)
        nbytes = bytes_moved(row.kind, rec.call, row.path)
        flops = row.flops
        if backward:
            grad_inputs = [v for n, v in zip(rec.node.all_input_nodes, node_values(rec), strict=True)
                           if n.op not in ("placeholder", "get_attr") and isinstance(v, Tensor)
                           and v.is_floating_point()]
            nbytes = nbytes + backward_bytes(rec.call, nbytes, grad_inputs)
            flops = flops + 2 * sum(step.grad_macs.values()) + (row.flops - 2 * row.macs)
        stage, block = places[id(row)]
        units.append(UnitProfile(
            path=row.path, type=row.type, kind=row.kind, plot_kind=plot_kind(row.kind, rec.call),
            output_shape=row.output_shape, stage=stage, block=block,
            **cost_of(row.macs + (sum(step.grad_macs.values()) if backward else 0), flops, nbytes,
                      times[rec.node], machine)))
    notes = [f"units timed {method}: " + ("each in its place during whole forwards (alternating with forwards of "
                                          "the network)" if method == "inline" else
                                          "each alone, again and again on its recorded input (its data stays in "
                                          "cache)"),
             "bytes: every input, weight and output touched once, at its dtype's size (docs/profile.md)"]
    if backward:
        notes.append("backward: MACs and FLOPs include the backward's (inspect's training convention), bytes the "
                     "gradients; run in eval mode (batch norm with running statistics)")
    busy = _load_note(machine.threads)
    if busy:
        notes.append(busy)
    return Profile(model=name, input_size=size, backward=backward, method=method, machine=machine, units=units,
                   stages=_roll(units, "stage", "stage", machine), blocks=_roll(units, "block", "block", machine),
                   latency_s=whole_s, repeats=repeats, warmup=warmup, dtype=str(dtype).replace("torch.", ""),
                   between_s=between, notes=notes)
