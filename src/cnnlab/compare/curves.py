"""Learning curves of a comparison: each run's accuracy per epoch, against epochs and against the CPU
seconds its training took, read from the trainer's ``metrics.jsonl`` (never recomputed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cnnlab.atomic import atomic_write

__all__ = ["Curve", "read_curve", "draw_learning_curves"]


@dataclass(frozen=True)
class Curve:
    """``accuracy_pct[i]``: accuracy after epoch ``epochs[i]`` on ``split`` ("validation" or "test");
    ``cpu_seconds[i]``: CPU seconds of training (``train_cpu_seconds``) summed up to that epoch."""

    label: str
    family: str
    split: str
    epochs: tuple[int, ...]
    accuracy_pct: tuple[float, ...]
    cpu_seconds: tuple[float, ...]


def read_curve(metrics: Path, label: str, family: str, split: str) -> Curve | None:
    """The curve of one run folder's ``metrics.jsonl``; None when it holds no evaluated epoch."""
    try:
        lines = metrics.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    epochs, accuracy, cpu, total = [], [], [], 0.0
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        total += float(record.get("train_cpu_seconds", 0.0))
        if record.get("val_acc") is None:
            continue
        epochs.append(int(record["epoch"]))
        accuracy.append(100.0 * float(record["val_acc"]))
        cpu.append(total)
    if not epochs:
        return None
    return Curve(label, family, split, tuple(epochs), tuple(accuracy), tuple(cpu))


def draw_learning_curves(curves: list[Curve], png_path: Path, svg_path: Path, title: str,
                         error_bars: dict[str, float] | None = None) -> None:  # fmt: skip
    """Two panels, accuracy vs epoch and vs CPU-seconds, one line per run (a model's seeds share its
    colour); ``error_bars[label]``: a ±half-width drawn at the run's last point (the binomial 2σ)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from cnnlab.compare.chart import family_colours

    colours = family_colours([c.family for c in curves])
    fig, (by_epoch, by_cpu) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    named: set[str] = set()
    for curve in curves:
        model = curve.label.split("@")[0]
        style = {"color": colours[curve.family], "marker": "o", "markersize": 3, "linewidth": 1.2,
                 "label": None if model in named else model}  # fmt: skip
        named.add(model)
        by_epoch.plot(curve.epochs, curve.accuracy_pct, **style)
        by_cpu.plot(curve.cpu_seconds, curve.accuracy_pct, **{**style, "label": None})
        bar = (error_bars or {}).get(curve.label)
        if bar:
            for ax, x in ((by_epoch, curve.epochs[-1]), (by_cpu, curve.cpu_seconds[-1])):
                ax.errorbar([x], [curve.accuracy_pct[-1]], yerr=[bar], color=colours[curve.family], capsize=4,
                            linewidth=1.2)  # fmt: skip
    split = curves[0].split if curves else "validation"
    for ax, xlabel in ((by_epoch, "epoch"), (by_cpu, "CPU seconds of training (all threads)")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{split} top-1 accuracy (%)")
        ax.grid(True, alpha=0.25)
    if curves:
        by_epoch.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=11)
    for path, fmt in ((png_path, "png"), (svg_path, "svg")):
        atomic_write(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=120))
    plt.close(fig)
