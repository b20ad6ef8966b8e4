"""The result of :func:`cnnlab.analysis.inspect`: totals, one row per unit, and its renderings."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

from cnnlab.analysis.rules.conventions import CONVENTIONS, MAC_KINDS
from cnnlab.analysis.walk.field import SpatialField
from cnnlab.analysis.walk.steps import Walk
from cnnlab.errors import ConfigError

__all__ = ["Report", "Row", "ReceptiveField", "build_report"]

Number = int | float | None


def _num(v: object) -> Number:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else round(float(v), 4)


def _axes(field: SpatialField, attr: str) -> tuple[Number, ...]:
    return tuple(_num(getattr(t, attr)) if t is not None else None for t in field.theory)


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of every unit of one feature map, per spatial axis ((h, w) for 2-D maps).

    ``size`` is r, the largest extent of input pixels influencing one unit, ``size_min`` the smallest
    (they differ after upsampling or a transposed convolution: ``notes`` says why), ``jump`` the mean
    distance between neighbouring units' fields, ``start`` the centre of unit 0's field and ``period``
    how many units the pattern takes to repeat — all theoretical (zero padding counts as pixels), exact.
    :meth:`box` gives any unit's field, :meth:`image_box` the pixels inside the image that really
    influence it. An axis whose theoretical field is unknown (after a flip) shows None.
    """

    size: tuple[Number, ...]
    size_min: tuple[Number, ...]
    jump: tuple[Number, ...]
    start: tuple[Number, ...]
    period: tuple[Number, ...]
    layer: str
    feature_size: tuple[int, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, field: SpatialField, layer: str) -> ReceptiveField:
        notes = []
        for axis, t in enumerate(field.theory):
            name = "hwd"[axis] if len(field.theory) > 1 else "l"
            if t is not None and t.r != t.r_min:
                notes.append(f"{name}: units differ, {t.r_min} to {t.r} px over a period of {t.period} units "
                             f"(upsampling, a transposed convolution or adaptive pooling makes neighbouring units "
                             f"read different numbers of inputs)")
            if t is not None and t.empty_units:
                notes.append(f"{name}: some units read no input at all (a transposed convolution whose stride "
                             "and dilation share a factor)")
        rf = cls(_axes(field, "r"), _axes(field, "r_min"), _axes(field, "jump"), _axes(field, "start"),
                 _axes(field, "period"), layer, field.sizes, tuple(notes))
        object.__setattr__(rf, "_field", field)
        return rf

    def _unit(self, unit: object) -> tuple[int, ...]:
        index = (unit,) if isinstance(unit, int) else tuple(unit) if isinstance(unit, (tuple, list)) else None
        if index is None or len(index) != len(self.feature_size) or not all(isinstance(i, int) for i in index):
            raise ConfigError(f"unit must be {len(self.feature_size)} integer index(es) into the "
                              f"{'x'.join(map(str, self.feature_size))} map of {self.layer}, got {unit!r}")
        return index

    def box(self, unit: object) -> tuple[tuple[int, int] | None, ...]:
        """``((first, last), ...)`` input pixels (inclusive, per axis) of ``unit``'s theoretical field; it may
        reach outside the image. None on an axis where the unit reads nothing or the field is unknown."""
        index = self._unit(unit)
        return tuple(t.box(i) if t is not None else None for t, i in zip(self._field.theory, index, strict=True))

    def image_box(self, unit: object) -> tuple[tuple[int, int], ...] | None:
        """The input pixels inside the image that influence ``unit`` (what a gradient sees), per axis, or None."""
        index = self._unit(unit)
        if any(not 0 <= i < n for i, n in zip(index, self.feature_size, strict=True)):
            raise ConfigError(f"unit {index} is outside the {'x'.join(map(str, self.feature_size))} map of {self.layer}")
        out = []
        for (lo, hi), i in zip(self._field.image.arrays(), index, strict=True):
            if lo[i] > hi[i]:
                return None
            out.append((int(lo[i]), int(hi[i])))
        return tuple(out)


@dataclass
class Row:
    """One unit (a leaf module) or a counted function (add, matmul ...)."""

    path: str
    type: str
    kind: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    flops: int
    rf_size: tuple[Number, ...] | None
    rf_jump: tuple[Number, ...] | None
    note: str = ""
    rf_size_min: tuple[Number, ...] | None = None


@dataclass
class Report:
    model: str
    input_size: tuple[int, ...]
    traced_with: str
    params: int
    trainable_params: int
    macs: int
    flops: int
    macs_by_kind: dict[str, int]
    ops_by_kind: dict[str, int]
    receptive_field: ReceptiveField | None
    activation_bytes: int
    peak_activation_bytes: int
    rows: list[Row]
    unsupported: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    train_macs: int = 0
    train_macs_by_kind: dict[str, int] = field(default_factory=dict)
    train_activation_bytes: int = 0
    train_unsupported: dict[str, int] = field(default_factory=dict)

    # --- renderings ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["conventions"] = dict(CONVENTIONS)
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def summary_lines(self) -> list[tuple[str, str]]:
        rf = self.receptive_field
        lines = [
            ("model", self.model), ("input", "x".join(map(str, self.input_size))),
            ("traced with", self.traced_with), ("params", f"{self.params:,}"),
            ("trainable params", f"{self.trainable_params:,}"),
            ("MACs", f"{self.macs:,} ({self.macs / 1e9:.3f} G)"),
            ("FLOPs", f"{self.flops:,} ({self.flops / 1e9:.3f} G)"),
            ("MACs by kind", ", ".join(f"{k} {v:,}" for k, v in self.macs_by_kind.items())),
            ("FLOPs by kind", ", ".join(f"{k} {v:,}" for k, v in self.ops_by_kind.items())),
            ("activations", f"{self.activation_bytes:,} bytes (peak live {self.peak_activation_bytes:,})"),
            ("training step", f"{self.train_macs:,} MACs forward + backward "
                              f"({self.train_macs / 1e9:.3f} G), {self.train_activation_bytes:,} bytes saved for backward"),
        ]
        if rf is not None:
            r_min = f" r_min={rf.size_min}" if rf.size_min != rf.size else ""
            lines.append(("receptive field", f"r={rf.size}{r_min} j={rf.jump} start={rf.start} at {rf.layer} "
                                             f"({'x'.join(map(str, rf.feature_size))})"))
        if self.unsupported:
            lines.append(("unsupported", ", ".join(f"{k} x{v}" for k, v in self.unsupported.items())))
        return lines

    def to_markdown(self) -> str:
        out = ["| quantity | value |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in self.summary_lines()]
        out += ["", "| path | type | output shape | params | MACs | FLOPs | RF | jump |", "|---|---|---|---:|---:|---:|---|---|"]
        for r in self.rows:
            shape = "x".join(map(str, r.output_shape)) if r.output_shape else ""
            rf = "x".join(map(str, r.rf_size)) if r.rf_size else ""
            jump = "x".join(map(str, r.rf_jump)) if r.rf_jump else ""
            out.append(f"| {r.path} | {r.type} | {shape} | {r.params:,} | {r.macs:,} | {r.flops:,} | {rf} | {jump} |")
        if self.warnings:
            out += ["", "Warnings:", *[f"- {w}" for w in self.warnings]]
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["path", "type", "kind", "output_shape", "params", "macs", "flops", "rf", "rf_min", "jump",
                         "note"])
        for r in self.rows:
            shape = "x".join(map(str, r.output_shape)) if r.output_shape else ""
            writer.writerow([r.path, r.type, r.kind, shape, r.params, r.macs, r.flops,
                             *("x".join(map(str, v)) if v else "" for v in (r.rf_size, r.rf_size_min, r.rf_jump)),
                             r.note])
        return buf.getvalue()

    def tree(self, depth: int | None = None):  # noqa: ANN201 - rich.tree.Tree, imported lazily
        """Rows grouped net → stage → block → unit (by module path) as a rich Tree."""
        from cnnlab.analysis.render.tree import build_tree

        return build_tree(self, depth)


def build_report(model_name: str, input_size: tuple[int, ...], walk: Walk, params: int,
                 trainable_params: int) -> Report:
    macs_by_kind: dict[str, int] = {}
    ops_by_kind: dict[str, int] = {}
    rows = []
    for s in walk.steps:
        for k, v in s.macs.items():
            macs_by_kind[k] = macs_by_kind.get(k, 0) + v
            ops_by_kind[k] = ops_by_kind.get(k, 0) + 2 * v
        for k, v in s.ops.items():
            ops_by_kind[k] = ops_by_kind.get(k, 0) + v
        if s.row:
            f = s.field
            rows.append(Row(
                path=s.path, type=s.type, kind=s.kind, output_shape=s.shape, params=s.params,
                macs=sum(s.macs.values()), flops=2 * sum(s.macs.values()) + sum(s.ops.values()),
                rf_size=_axes(f, "r") if f else None, rf_jump=_axes(f, "jump") if f else None,
                note="; ".join(s.notes), rf_size_min=_axes(f, "r_min") if f else None,
            ))
    rf = ReceptiveField.of(*walk.last_field) if walk.last_field is not None else None
    train_by_kind = dict(macs_by_kind)
    saved: dict[object, int] = {}
    for s in walk.steps:
        for k, v in s.grad_macs.items():
            train_by_kind[k] = train_by_kind.get(k, 0) + v
        for key, size in s.saved:
            saved[key] = max(saved.get(key, 0), size)
    ordered_macs = {k: macs_by_kind[k] for k in (*MAC_KINDS, *sorted(macs_by_kind)) if k in macs_by_kind}
    return Report(
        model=model_name, input_size=tuple(input_size), traced_with=walk.traced_with, params=params,
        trainable_params=trainable_params, macs=sum(macs_by_kind.values()), flops=sum(ops_by_kind.values()),
        macs_by_kind=ordered_macs, ops_by_kind=dict(sorted(ops_by_kind.items(), key=lambda kv: -kv[1])),
        receptive_field=rf, activation_bytes=walk.activation_bytes,
        peak_activation_bytes=walk.peak_activation_bytes, rows=rows, unsupported=dict(walk.unsupported),
        warnings=_summarise(walk.warnings), train_macs=sum(train_by_kind.values()),
        train_macs_by_kind={k: train_by_kind[k] for k in ordered_macs} | train_by_kind,
        train_activation_bytes=sum(saved.values()), train_unsupported=dict(walk.train_unsupported),
    )


def _summarise(warnings: list[str]) -> list[str]:
    """Collapse the repeated global-context notes (one per squeeze-excitation block) into one line."""
    marker = "global context merged here"
    global_paths = [w.split(": ", 1)[0] for w in warnings if marker in w]
    others = [w for w in warnings if marker not in w]
    if global_paths:
        others.append(
            f"global context (squeeze-excitation / attention) merged at {len(global_paths)} op(s), first at "
            f"{global_paths[0]}: the true receptive field there is the whole input; the reported one is the "
            "local convolutional field"
        )
    return others
