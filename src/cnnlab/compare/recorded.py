"""Accuracy at convergence as recorded by ``benchmarks/converged.py``, shown next to a live short run.

A short comparison (the demo's 63 steps) ranks how fast networks learn, not what they reach. The
converged numbers take hours on a CPU, so the benchmark records them once, with its date, command and
budget, in ``recorded_converged.json`` next to this file; ``compare`` on the same data and image size
draws them beside its own points and lists them in report.html, always labelled with that date and command.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_text

__all__ = ["RecordedRow", "RecordedRun", "load_recorded", "recorded_from_rows", "write_recorded"]

RECORD_FILE = Path(__file__).with_name("recorded_converged.json")


@dataclass(frozen=True)
class RecordedRow:
    model: str  # the compare label (a spec's label for a found network)
    family: str
    params: int
    macs: int  # at the record's image size
    test_top1: float  # percent, full test set
    test_top1_2sigma: float | None  # binomial ±2σ, points
    seeds: int | None


@dataclass(frozen=True)
class RecordedRun:
    data: str
    image_size: int
    epochs: int
    recorded_utc: str  # YYYY-MM-DD
    command: str
    rows: tuple[RecordedRow, ...]

    @property
    def caption(self) -> str:
        """What a reader must see next to these numbers: that they are recorded, when and how."""
        return (f"at convergence ({self.epochs} epochs), recorded {self.recorded_utc} by `{self.command}`")


def recorded_from_rows(rows: list[Any], command: str, epochs: int, image_size: int, data: str) -> RecordedRun:
    """A record of a converged comparison's rows (:class:`cnnlab.compare.table.ComparisonRow`) that have a
    test accuracy, dated today (UTC)."""
    kept = tuple(RecordedRow(r.model, r.family, int(r.params), int(r.macs), float(r.test_top1),
                             r.test_top1_2sigma, r.seeds) for r in rows if r.test_top1 is not None)
    return RecordedRun(data=data, image_size=image_size, epochs=epochs, command=command, rows=kept,
                       recorded_utc=time.strftime("%Y-%m-%d", time.gmtime()))


def write_recorded(run: RecordedRun, path: Path | None = None) -> Path:
    """Write ``run`` atomically to ``path`` (default: the package's record; the benchmark's job, a user's
    compare never writes it)."""
    path = RECORD_FILE if path is None else path
    payload = asdict(run)
    payload["rows"] = [asdict(row) for row in run.rows]
    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
    return path


def load_recorded(data: str, image_size: int | None, path: Path | None = None) -> RecordedRun | None:
    """The recorded converged run for ``data`` at ``image_size`` (None: nothing recorded for it)."""
    path = RECORD_FILE if path is None else path
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    if payload.get("data") != data or payload.get("image_size") != image_size:
        return None
    rows = tuple(RecordedRow(**row) for row in payload["rows"])
    return RecordedRun(**{**payload, "rows": rows})
