"""Helpers shared by every benchmark: thread pinning, median timers, machine info, atomic markdown output.

Each benchmark measures ratios within one run on one machine; these helpers keep that honest: threads
pinned, warm-up before timing, medians of repeats, and variants timed interleaved so that load from other
processes falls on all of them alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from cnnlab.atomic import atomic_write_text
from cnnlab.compare.latency import cpu_model
from cnnlab.timing import interleaved_median_seconds, median_seconds

__all__ = [
    "RESULTS_DIR",
    "add_common_args",
    "interleaved_medians",
    "machine_info",
    "machine_info_markdown",
    "markdown_table",
    "median_time",
    "pin_threads",
    "write_markdown",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--quick`` (smoke run: fewer repeats, smaller inputs) and ``--threads`` (default: torch's count)."""
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer repeats, smaller inputs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: current count)")
    return parser


def pin_threads(threads: int | None) -> int:
    """Fix torch's intra-op thread count for the rest of the run; return it."""
    if threads is not None:
        if threads < 1:
            raise SystemExit(f"--threads must be ≥ 1, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, threads: int | None = None) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after ``warmup`` calls, with ``threads`` pinned.

    Grad mode is left as the caller has it (wrap inference in ``torch.inference_mode()`` yourself).
    """
    return median_seconds(fn, repeats, warmup, threads, inference=False)


def interleaved_medians(
    fns: Mapping[str, Callable[[], object]], repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Median seconds per variant, one call of each in turn per round, in balanced orders (each variant
    first, and right after each other one, equally often; see ``interleaved_median_seconds``).

    Grad mode is left as the caller has it, so forward+backward passes can be timed too.
    """
    return interleaved_median_seconds(fns, repeats, warmup, inference=False)


def machine_info() -> dict[str, str]:
    """CPU model, cores, load, torch version and threads: what a reader needs to compare two tables."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": cpu_model(),
        "logical cores": str(os.cpu_count()),
        "load average (1, 5, 15 min)": load,
        "torch": torch.__version__,
        "torch threads": str(torch.get_num_threads()),
        "CPU capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
    }


def machine_info_markdown() -> str:
    return "\n".join(f"- {key}: {value}" for key, value in machine_info().items())


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; cells are str()-ed."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_markdown(name: str, text: str, results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``results_dir/name.md`` atomically (temp file in the same folder, then ``os.replace``)."""
    return atomic_write_text(results_dir / f"{name}.md", text if text.endswith("\n") else text + "\n")
