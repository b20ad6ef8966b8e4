"""The result of :func:`cnnlab.analysis.inspect`: totals, one row per unit, and its renderings."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

from cnnlab.analysis.conventions import CONVENTIONS, MAC_KINDS
from cnnlab.analysis.steps import Walk

__all__ = ["Report", "Row", "ReceptiveField", "build_report"]


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 4)


def _pair(p: tuple[float, float]) -> tuple[float | int, float | int]:
    return _num(p[0]), _num(p[1])


@dataclass(frozen=True)
class ReceptiveField:
    """The lecture's r, j and start per axis (h, w), at the feature map named by ``layer``."""

    size: tuple[float, float]
    jump: tuple[float, float]
    start: tuple[float, float]
    layer: str
    feature_size: tuple[int, int]


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
    rf_size: tuple[float, float] | None
    rf_jump: tuple[float, float] | None
    note: str = ""


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
        ]
        if rf is not None:
            lines.append(("receptive field", f"r={rf.size} j={rf.jump} start={rf.start} at {rf.layer} "
                                             f"({rf.feature_size[0]}x{rf.feature_size[1]})"))
        if self.unsupported:
            lines.append(("unsupported", ", ".join(f"{k} x{v}" for k, v in self.unsupported.items())))
        return lines

    def to_markdown(self) -> str:
        out = ["| quantity | value |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in self.summary_lines()]
        out += ["", "| path | type | output shape | params | MACs | FLOPs | RF | jump |", "|---|---|---|---:|---:|---:|---|---|"]
        for r in self.rows:
            shape = "x".join(map(str, r.output_shape)) if r.output_shape else ""
            rf = f"{r.rf_size[0]}x{r.rf_size[1]}" if r.rf_size else ""
            jump = f"{r.rf_jump[0]}x{r.rf_jump[1]}" if r.rf_jump else ""
            out.append(f"| {r.path} | {r.type} | {shape} | {r.params:,} | {r.macs:,} | {r.flops:,} | {rf} | {jump} |")
        if self.warnings:
            out += ["", "Warnings:", *[f"- {w}" for w in self.warnings]]
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["path", "type", "kind", "output_shape", "params", "macs", "flops", "rf_h", "rf_w",
                         "jump_h", "jump_w", "note"])
        for r in self.rows:
            rf = r.rf_size or ("", "")
            jump = r.rf_jump or ("", "")
            shape = "x".join(map(str, r.output_shape)) if r.output_shape else ""
            writer.writerow([r.path, r.type, r.kind, shape, r.params, r.macs, r.flops, *rf, *jump, r.note])
        return buf.getvalue()

    def tree(self, depth: int | None = None):  # noqa: ANN201 - rich.tree.Tree, imported lazily
        """Rows grouped net → stage → block → unit (by module path) as a rich Tree."""
        from cnnlab.analysis.tree import build_tree

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
                rf_size=_pair(f.r) if f else None, rf_jump=_pair(f.j) if f else None, note="; ".join(s.notes),
            ))
    rf = None
    if walk.last_field is not None:
        f, hw, path = walk.last_field
        rf = ReceptiveField(_pair(f.r), _pair(f.j), _pair(f.start), path, hw)
    ordered_macs = {k: macs_by_kind[k] for k in (*MAC_KINDS, *sorted(macs_by_kind)) if k in macs_by_kind}
    return Report(
        model=model_name, input_size=tuple(input_size), traced_with=walk.traced_with, params=params,
        trainable_params=trainable_params, macs=sum(macs_by_kind.values()), flops=sum(ops_by_kind.values()),
        macs_by_kind=ordered_macs, ops_by_kind=dict(sorted(ops_by_kind.items(), key=lambda kv: -kv[1])),
        receptive_field=rf, activation_bytes=walk.activation_bytes,
        peak_activation_bytes=walk.peak_activation_bytes, rows=rows, unsupported=dict(walk.unsupported),
        warnings=_summarise(walk.warnings),
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
