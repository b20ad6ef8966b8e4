"""The profile as text: a rich table (like ``cnnlab show``), markdown, and where the time goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnlab.analysis.profile.result import GroupProfile, Profile, UnitProfile

__all__ = ["markdown", "rich_table", "where_time_goes", "LEVELS"]

LEVELS = ("stage", "block", "unit")


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3f}"


def _rows(p: Profile, level: str) -> list[GroupProfile | UnitProfile]:
    return {"stage": p.stages, "block": p.blocks, "unit": p.units}[level]


def _cells(r: GroupProfile | UnitProfile, total_s: float) -> list[str]:
    return [f"{r.macs / 1e6:,.2f}", f"{r.bytes / 2**20:,.2f}", f"{r.intensity:.2f}", _ms(r.latency_s),
            f"{100 * r.latency_s / total_s:.1f}" if total_s else "-", f"{r.achieved_flops / 1e9:.2f}",
            f"{r.attainable_flops / 1e9:.2f}", f"{100 * r.share:.0f}", r.bound]


# MiB moved; FLOP per byte; % of the units' time; achieved and attainable GFLOP/s; % of attainable reached
HEADER = ["MMACs", "MiB", "FLOP/B", "ms", "%time", "GFLOP/s", "attain.", "%att.", "bound"]


def summary_lines(p: Profile) -> list[tuple[str, str]]:
    m = p.machine
    direction = "forward + backward" if p.backward else "forward"
    overall = p.flops / p.latency_s if p.latency_s else 0.0
    return [
        ("model", p.model), ("input", "x".join(map(str, p.input_size)) + f" {p.dtype}, {direction}"),
        ("machine", f"peak {m.peak_flops / 1e9:.1f} GFLOP/s, bandwidth {m.bandwidth_bytes_per_s / 1e9:.1f} GB/s, "
                    f"ridge {m.ridge_intensity:.1f} FLOP/B, {m.threads} thread(s)"),
        ("measured", m.how),
        ("whole network", f"{_ms(p.latency_s)} ms (median of {p.repeats} after {p.warmup} warm-up), "
                          f"{overall / 1e9:.2f} GFLOP/s = {100 * overall / m.peak_flops:.0f}% of the matmul peak"),
        ("sum of units", f"{_ms(p.units_latency_s)} ms = {100 * p.sum_ratio:.1f}% of the whole "
                         f"(units timed {p.method}; ops with no row: {_ms(p.between_s)} ms)"),
    ]


def where_time_goes(p: Profile) -> list[str]:
    """Which kinds of unit take the time, against their share of the MACs; the slowest units; and what
    the roofline says about them."""
    kinds = p.by_kind()
    lines = []
    parts = [f"{kind} {100 * d['time']:.0f}% of the time for {100 * d['macs']:.0f}% of the MACs "
             f"({int(d['units'])} units)" for kind, d in kinds.items() if d["time"] >= 0.01 or d["macs"] >= 0.01]
    lines.append("Time by kind of unit: " + "; ".join(parts) + ".")
    slow = [(kind, d) for kind, d in kinds.items() if d["macs"] >= 0.01 and d["time"] >= 2 * d["macs"]
            and d["time"] >= 0.05]
    for kind, d in slow:
        lines.append(f"{kind} units take {d['time'] / d['macs']:.1f}x the share of time their MACs would give them: "
                     "they do few FLOPs per byte moved, so memory, not arithmetic, sets their speed.")
    free = [kind for kind, d in kinds.items() if d["macs"] == 0 and d["time"] >= 0.05]
    if free:
        lines.append(f"{', '.join(free)} units have no MACs at all yet take "
                     f"{100 * sum(kinds[k]['time'] for k in free):.0f}% of the time.")
    top = sorted(p.units, key=lambda u: -u.latency_s)[:3]
    total = p.units_latency_s or 1.0
    lines.append("Slowest units: " + "; ".join(
        f"{u.path} ({u.plot_kind}) {_ms(u.latency_s)} ms, {100 * u.latency_s / total:.0f}%, "
        f"{100 * u.share:.0f}% of its attainable" for u in top) + ".")
    memory = sum(u.latency_s for u in p.units if u.bound == "memory") / total
    lines.append(f"{100 * memory:.0f}% of the time is spent in units below the ridge point "
                 f"({p.machine.ridge_intensity:.1f} FLOP/B): bandwidth-bound by the roofline.")
    return lines


def markdown(p: Profile) -> str:
    out = ["| quantity | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in summary_lines(p)], ""]
    out += [f"- {line}" for line in where_time_goes(p)]
    out += ["", "MiB: bytes moved (inputs, weights and outputs, each once); FLOP/B: arithmetic intensity (2 FLOPs "
            "per MAC plus element-wise ops); ms: median latency; %time: of the units' sum; GFLOP/s: achieved; "
            "attain.: min(peak, FLOP/B × bandwidth); %att.: achieved / attainable."]
    total = p.units_latency_s
    for level in LEVELS:
        first = ["path", "kind"] if level == "unit" else [level, "units"]
        out += ["", f"## By {level}", "", "| " + " | ".join([*first, *HEADER]) + " |",
                "|" + "---|" * 2 + "---:|" * (len(HEADER) - 1) + "---|"]
        for r in _rows(p, level):
            lead = [r.path, r.plot_kind] if level == "unit" else [r.name, str(r.units)]
            out.append("| " + " | ".join([*lead, *_cells(r, total)]) + " |")
    if p.notes:
        out += ["", "Notes:", *[f"- {n}" for n in p.notes]]
    return "\n".join(out) + "\n"


def rich_table(p: Profile, level: str = "stage"):  # noqa: ANN201 - rich.table.Table
    from rich.table import Table

    from cnnlab.errors import ConfigError

    if level not in LEVELS:
        raise ConfigError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    title = f"{p.model} {'x'.join(map(str, p.input_size))}: by {level}"
    table = Table(title=title, title_justify="left")
    first = ["path", "kind"] if level == "unit" else [level, "units"]
    for i, name in enumerate([*first, *HEADER]):
        table.add_column(name, justify="left" if i < 2 or name == "bound" else "right")
    total = p.units_latency_s
    for r in _rows(p, level):
        lead = [r.path, r.plot_kind] if level == "unit" else [r.name, str(r.units)]
        table.add_row(*lead, *_cells(r, total))
    return table
