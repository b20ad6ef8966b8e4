"""The comparison table: one row per model, written as CSV (raw numbers) and Markdown (readable)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields

__all__ = ["ComparisonRow", "COLUMNS", "rows_to_csv", "rows_to_markdown", "format_cell"]


@dataclass
class ComparisonRow:
    """Everything the comparison reports about one model; ``None`` means not measured / not published.

    Compute columns are at the comparison's input (``input_shape`` = C×H×W, ``num_classes`` outputs);
    ``imagenet_*`` columns are the published ImageNet-1K numbers at 224×224 with their source.
    """

    model: str
    family: str
    paper: str
    input_shape: str
    params: int
    macs: int
    flops: int | None
    receptive_field_px: str | None
    peak_activation_bytes: int | None  # from cnnlab.inspect: tensor liveness, batch 1
    measured_peak_bytes: int | None  # live tensors during a real forward, batch 1
    latency_b1_ms: float | None  # median wall time of one forward, batch 1
    latency_b32_ms: float | None  # median wall time of one forward, batch 32
    threads: int
    epochs: int | None = None
    train_images: int | None = None
    val_top1: float | None = None  # best validation accuracy, percent
    test_top1: float | None = None  # test accuracy of the final model, percent
    test_top1_2sigma: float | None = None  # binomial ±2σ of test_top1 on test_images (points)
    test_top1_seed_sd: float | None = None  # sample standard deviation over seeds (points), ≥ 2 seeds
    seeds: int | None = None  # training runs averaged into test_top1
    test_images: int | None = None
    train_images_per_second: float | None = None
    imagenet_top1: float | None = None
    imagenet_macs: int | None = None
    imagenet_params: int | None = None
    imagenet_source: str | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ComparisonRow))

MD_HEADERS = {
    "model": "model",
    "family": "family",
    "params": "params",
    "macs": "MACs",
    "receptive_field_px": "RF (px)",
    "peak_activation_bytes": "peak act.",
    "measured_peak_bytes": "peak meas.",
    "latency_b1_ms": "CPU ms b1",
    "latency_b32_ms": "CPU ms b32",
    "test_top1": "test top-1 %",
    "test_top1_2sigma": "± 2σ binomial",
    "test_top1_seed_sd": "seed sd",
    "val_top1": "val top-1 %",
    "imagenet_top1": "ImageNet top-1 %",
    "imagenet_macs": "ImageNet MACs",
    "imagenet_params": "ImageNet params",
    "imagenet_source": "source",
}


def _si(value: float, suffixes: tuple[str, ...] = ("", "k", "M", "G", "T")) -> str:
    index = 0
    while abs(value) >= 1000 and index < len(suffixes) - 1:
        value /= 1000
        index += 1
    return f"{value:.3g}{suffixes[index]}" if index else f"{value:g}"


def _bytes(value: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def format_cell(column: str, value: object) -> str:
    """Human-readable text of one cell (units in the header, SI suffixes on counts)."""
    if value is None:
        return "—"
    if column in ("params", "macs", "flops", "imagenet_macs", "imagenet_params"):
        return _si(float(value))  # type: ignore[arg-type]
    if column.endswith("_bytes"):
        return _bytes(int(value))  # type: ignore[call-overload]
    if column.endswith("_ms"):
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    if column.endswith(("top1", "_2sigma", "_seed_sd")):
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    if column == "train_images_per_second":
        return f"{float(value):.0f}"  # type: ignore[arg-type]
    return str(value)


def markdown_columns(rows: list[ComparisonRow]) -> list[str]:
    """Columns shown in Markdown/HTML: the readable subset, training columns only if anything trained."""
    trained = any(r.test_top1 is not None or r.val_top1 is not None for r in rows)
    shown = [c for c in MD_HEADERS if trained or c not in ("test_top1", "val_top1", "test_top1_2sigma")]
    present = {c for c in ("test_top1_seed_sd", "val_top1") if any(getattr(r, c) is not None for r in rows)}
    return [c for c in shown if c not in ("test_top1_seed_sd", "val_top1") or c in present]


def rows_to_markdown(rows: list[ComparisonRow]) -> str:
    columns = markdown_columns(rows)
    lines = [
        "| " + " | ".join(MD_HEADERS[c] for c in columns) + " |",
        "|" + "|".join("---" if c in ("model", "family", "imagenet_source") else "---:" for c in columns) + "|",
    ]
    for row in rows:
        values = asdict(row)
        lines.append("| " + " | ".join(format_cell(c, values[c]).replace("|", "/") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: list[ComparisonRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return buffer.getvalue()
