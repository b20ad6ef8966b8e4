"""``search_report(...)``: the trials of one or more studies, the best genotype (best.json) and a
plot of best-so-far accuracy against the number of completed trials, one line per strategy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from cnnlab.atomic import atomic_write
from cnnlab.nas.genotype import write_best_genotype
from cnnlab.nas.storage import make_storage, open_study

__all__ = ["TrialRow", "SearchReport", "search_report", "best_so_far"]


@dataclass
class TrialRow:
    study: str
    number: int
    state: str
    strategy: str
    value: float | None
    genotype: dict[str, Any] | None


@dataclass
class SearchReport:
    rows: list[TrialRow]
    best: TrialRow | None
    best_path: Path | None
    plot_path: Path | None


def best_so_far(values: list[float]) -> list[float]:
    out, best = [], float("-inf")
    for v in values:
        best = max(best, v)
        out.append(best)
    return out


def search_report(studies: list[str], storage: str | None = None, out: str = "runs/search") -> SearchReport:
    """Collect trials of ``studies`` (from ``storage``, default the journal in ``out``), write
    ``<out>/best.json`` and ``<out>/best_so_far.png``. A journal that does not exist is a
    ConfigError; nothing is created then."""
    backend = make_storage(storage, out, must_exist=True)
    rows: list[TrialRow] = []
    for name in studies:
        study = open_study(name, backend, load_only=True)
        for t in study.get_trials(deepcopy=False):
            rows.append(TrialRow(name, t.number, t.state.name, t.user_attrs.get("strategy", "?"),
                                 t.value if t.state == TrialState.COMPLETE else None, t.user_attrs.get("genotype")))
    complete = [r for r in rows if r.value is not None]
    best = max(complete, key=lambda r: r.value, default=None)
    out_dir = Path(out)
    best_path = None
    if best is not None and best.genotype is not None:
        best_path = write_best_genotype(out_dir / "best.json", best.genotype)
    plot_path = _plot(complete, out_dir / "best_so_far.png") if complete else None
    return SearchReport(rows, best, best_path, plot_path)


def _plot(complete: list[TrialRow], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    groups: dict[str, list[TrialRow]] = {}
    for r in complete:
        groups.setdefault(f"{r.strategy} ({r.study})", []).append(r)
    for label, rs in sorted(groups.items()):
        curve = best_so_far([r.value for r in sorted(rs, key=lambda r: r.number)])
        ax.plot(range(1, len(curve) + 1), curve, marker=".", label=label)
    ax.set_xlabel("completed trials")
    ax.set_ylabel("best validation accuracy so far")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return path
