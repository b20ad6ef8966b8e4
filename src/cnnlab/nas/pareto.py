"""The Pareto set of a multi-objective search: the completed children no other completed child beats on
every objective at once (Optuna's ``study.best_trials``; accuracy maximised, costs minimised), written
atomically as ``pareto.json`` (with genotypes), ``pareto.csv`` and ``pareto.md``, sorted by the first
cost (cheapest first)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import optuna

from cnnlab.atomic import atomic_write_text

__all__ = ["pareto_rows", "write_pareto", "pareto_markdown"]

_FORMAT = {"accuracy": "{:.4f}", "macs": "{:,.0f}", "params": "{:,.0f}", "latency": "{:.3f}"}
_HEADER = {"accuracy": "val acc", "macs": "MACs", "params": "params", "latency": "latency ms"}


def pareto_rows(study: optuna.Study, objectives: tuple[str, ...]) -> list[dict[str, Any]]:
    """One dict per Pareto-optimal trial: ``trial``, each objective by name, ``genotype``."""
    rows = [{"trial": t.number, **{name: float(v) for name, v in zip(objectives, t.values, strict=True)},
             "genotype": t.user_attrs.get("genotype")} for t in study.best_trials]
    return sorted(rows, key=lambda r: (*(r[n] for n in objectives[1:]), -r["accuracy"], r["trial"]))


def pareto_markdown(rows: list[dict[str, Any]], objectives: tuple[str, ...]) -> str:
    lines = ["| trial | " + " | ".join(_HEADER[n] for n in objectives) + " |",
             "|---:|" + "---:|" * len(objectives)]
    for r in rows:
        lines.append(f"| {r['trial']} | " + " | ".join(_FORMAT[n].format(r[n]) for n in objectives) + " |")
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict[str, Any]], objectives: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["trial", *objectives, "genotype"])
    for r in rows:
        writer.writerow([r["trial"], *(repr(r[n]) for n in objectives), json.dumps(r["genotype"], separators=(",", ":"))])
    return buffer.getvalue()


def write_pareto(study: optuna.Study, objectives: tuple[str, ...], out: Path) -> tuple[list[dict[str, Any]], Path]:
    """Write ``out/pareto.json``, ``pareto.csv`` and ``pareto.md`` (each atomically); the rows and the
    json's path."""
    rows = pareto_rows(study, objectives)
    document = {"study": study.study_name, "objectives": list(objectives),
                "directions": [d.name.lower() for d in study.directions], "pareto": rows}
    path = atomic_write_text(out / "pareto.json", json.dumps(document, indent=2) + "\n")
    atomic_write_text(out / "pareto.csv", _csv(rows, objectives))
    atomic_write_text(out / "pareto.md", f"Pareto set of study {study.study_name}\n\n" + pareto_markdown(rows, objectives))
    return rows, path
