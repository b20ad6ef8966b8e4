"""The result of :func:`cnnlab.profile`: one plain row per unit, roll-ups by stage and block, the machine.

Numbers and their units: ``flops`` are 2 per multiply-accumulate plus inspect's element-wise ops
(docs/analysis.md); ``bytes`` follow :mod:`~cnnlab.analysis.profile.traffic`; ``intensity`` is
flops / bytes (FLOP per byte); ``attainable_flops`` = ``min(peak, intensity × bandwidth)`` (FLOP/s, the
roofline); ``achieved_flops`` = flops / latency_s; ``share`` = achieved / attainable (above 1 when a unit's
data came from cache rather than memory, which the bandwidth roof does not know).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

from cnnlab.analysis.profile.machine import Machine

__all__ = ["GroupProfile", "Profile", "UnitProfile", "cost_of"]


def cost_of(macs: int, flops: int, nbytes: int, latency_s: float, machine: Machine) -> dict:
    """The roofline numbers of one unit or group, as keyword arguments of a row."""
    intensity = flops / nbytes if nbytes else 0.0
    attainable = machine.attainable_flops(intensity) if nbytes else machine.peak_flops
    achieved = flops / latency_s if latency_s > 0 else 0.0
    return {"macs": macs, "flops": flops, "bytes": nbytes, "latency_s": latency_s, "intensity": intensity,
            "attainable_flops": attainable, "achieved_flops": achieved,
            "share": achieved / attainable if attainable > 0 else 0.0,
            "bound": "compute" if nbytes and intensity >= machine.ridge_intensity else "memory"}


@dataclass(frozen=True)
class UnitProfile:
    """One unit (one row of :func:`cnnlab.inspect`): what it costs, what it moves, how long it took."""

    path: str
    type: str
    kind: str  # inspect's kind (conv, norm, act, add, pool, linear ...)
    plot_kind: str  # conv, depthwise conv, pointwise, linear, bn, elementwise, pool, other
    output_shape: tuple[int, ...] | None
    stage: str
    block: str
    macs: int
    flops: int
    bytes: int
    latency_s: float
    intensity: float
    attainable_flops: float
    achieved_flops: float
    share: float
    bound: str


@dataclass(frozen=True)
class GroupProfile:
    """A stage or block: its units' totals; its intensity is total flops / total bytes."""

    name: str
    level: str  # "stage" or "block"
    units: int
    macs: int
    flops: int
    bytes: int
    latency_s: float
    intensity: float
    attainable_flops: float
    achieved_flops: float
    share: float
    bound: str


@dataclass
class Profile:
    """Per-unit runtime profile of one network on this machine (``cnnlab.profile``)."""

    model: str
    input_size: tuple[int, ...]
    backward: bool
    method: str  # how the units were timed: "inline" or "isolated"
    machine: Machine
    units: list[UnitProfile]
    stages: list[GroupProfile]
    blocks: list[GroupProfile]
    latency_s: float  # the whole network, measured (median)
    repeats: int
    warmup: int
    dtype: str
    between_s: float = 0.0  # ops inspect shows no row for (views, flatten): in no unit
    notes: list[str] = field(default_factory=list)

    # --- totals --------------------------------------------------------------------------------
    @property
    def units_latency_s(self) -> float:
        return sum(u.latency_s for u in self.units)

    @property
    def sum_ratio(self) -> float:
        """Sum of the units' latencies over the whole network's (1.0: they add up exactly)."""
        return self.units_latency_s / self.latency_s if self.latency_s > 0 else 0.0

    @property
    def flops(self) -> int:
        return sum(u.flops for u in self.units)

    @property
    def macs(self) -> int:
        return sum(u.macs for u in self.units)

    @property
    def bytes(self) -> int:
        return sum(u.bytes for u in self.units)

    def unit(self, path: str) -> list[UnitProfile]:
        """The rows of the unit at ``path`` (a unit called twice has two); ConfigError if there is none."""
        from cnnlab.errors import ConfigError

        rows = [u for u in self.units if u.path == path]
        if not rows:
            close = [u.path for u in self.units if path and path.split(".")[-1] in u.path][:3]
            hint = f"; e.g. {', '.join(close)}" if close else ""
            raise ConfigError(f"unit {path!r} is not in the profile of {self.model}{hint}")
        return rows

    def by_kind(self) -> dict[str, dict[str, float]]:
        """Per roofline class: share of time, MACs, FLOPs and bytes (fractions of the units' totals)."""
        total = {"time": self.units_latency_s, "macs": self.macs, "flops": self.flops, "bytes": self.bytes}
        out: dict[str, dict[str, float]] = {}
        for u in self.units:
            d = out.setdefault(u.plot_kind, {"time": 0.0, "macs": 0.0, "flops": 0.0, "bytes": 0.0, "units": 0})
            d["time"] += u.latency_s
            d["macs"] += u.macs
            d["flops"] += u.flops
            d["bytes"] += u.bytes
            d["units"] += 1
        for d in out.values():
            for key, value in total.items():
                d[key] = d[key] / value if value else 0.0
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["time"]))

    def where_time_goes(self) -> list[str]:
        """A few sentences naming where the time goes."""
        from cnnlab.analysis.profile.render import where_time_goes

        return where_time_goes(self)

    # --- renderings ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["machine"]["ridge_intensity"] = self.machine.ridge_intensity
        d.update(units_latency_s=self.units_latency_s, sum_ratio=self.sum_ratio, macs=self.macs,
                 flops=self.flops, bytes=self.bytes, by_kind=self.by_kind(), where_time_goes=self.where_time_goes())
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        """One line per unit, then one per block and per stage (``level`` says which)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["level", "path", "type", "kind", "plot_kind", "macs", "flops", "bytes", "intensity",
                         "latency_s", "attainable_flops", "achieved_flops", "share", "bound"])
        for u in self.units:
            writer.writerow(["unit", u.path, u.type, u.kind, u.plot_kind, u.macs, u.flops, u.bytes, f"{u.intensity:.6g}",
                             f"{u.latency_s:.6g}", f"{u.attainable_flops:.6g}", f"{u.achieved_flops:.6g}",
                             f"{u.share:.4f}", u.bound])
        for g in [*self.blocks, *self.stages]:
            writer.writerow([g.level, g.name, "", "", "", g.macs, g.flops, g.bytes, f"{g.intensity:.6g}",
                             f"{g.latency_s:.6g}", f"{g.attainable_flops:.6g}", f"{g.achieved_flops:.6g}",
                             f"{g.share:.4f}", g.bound])
        return buf.getvalue()

    def to_markdown(self) -> str:
        from cnnlab.analysis.profile.render import markdown

        return markdown(self)

    def table(self, level: str = "stage"):  # noqa: ANN201 - a rich Table
        """A rich table of the stages, blocks or units (``level``)."""
        from cnnlab.analysis.profile.render import rich_table

        return rich_table(self, level)
