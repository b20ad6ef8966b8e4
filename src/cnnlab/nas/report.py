"""``search_report(...)``: the trials of one or more studies, the best genotype (best.json) and a
plot of best-so-far accuracy against the number of completed trials, one line per strategy. For a
multi-objective study also its Pareto set (:mod:`cnnlab.nas.pareto`: pareto.json, .csv, .md) and
``pareto.png``: validation accuracy against the first cost (MACs for ``--objective accuracy,macs``) of
every completed child, the front drawn as a staircase, and the lecture's networks
(:data:`LECTURE_NETWORKS`) as vertical lines at their own cost measured with :func:`cnnlab.inspect` on the
meta device at the search's input size — lines, not points: their accuracy under the children's short
training budget is not known. A network that cannot run at that input (GoogLeNet and VGG at 8x8) is
left out and named in the caption. Files are written atomically; a folder that cannot be written is a
ConfigError naming the path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError
from cnnlab.nas.genotype import write_best_genotype
from cnnlab.nas.objectives import COST_KEYS
from cnnlab.nas.storage import make_storage, open_study

__all__ = ["TrialRow", "SearchReport", "search_report", "best_so_far", "pareto_plot", "lecture_costs",
           "LECTURE_NETWORKS"]

# the networks of the lecture that cnnlab compare trains in its demo
LECTURE_NETWORKS = ("resnet18", "mobilenet_v1", "mobilenet_v2", "googlenet", "vgg11_bn")


@dataclass
class TrialRow:
    study: str
    number: int
    state: str
    strategy: str
    value: float | None  # validation accuracy (a multi-objective trial's first value)
    genotype: dict[str, Any] | None
    costs: dict[str, float] | None = None  # macs, params, latency_ms where the search measured them


@dataclass
class SearchReport:
    rows: list[TrialRow]
    best: TrialRow | None
    best_path: Path | None
    plot_path: Path | None
    pareto: dict[str, list[dict[str, Any]]] | None = None  # study -> its Pareto set (multi-objective studies)
    pareto_paths: dict[str, Path] | None = None  # study -> pareto.json
    pareto_plots: dict[str, Path] | None = None  # study -> pareto.png


def best_so_far(values: list[float]) -> list[float]:
    out, best = [], float("-inf")
    for v in values:
        best = max(best, v)
        out.append(best)
    return out


def search_report(studies: list[str], storage: str | None = None, out: str = "runs/search") -> SearchReport:
    """Collect trials of ``studies`` (from ``storage``, default the journal in ``out``), write
    ``<out>/best.json`` and ``<out>/best_so_far.png``; for each multi-objective study its Pareto set and
    plot (``pareto.*``; ``pareto-<study>.*`` when several studies are given). A journal that does not
    exist is a ConfigError; nothing is created then."""
    backend = make_storage(storage, out, must_exist=True)
    rows: list[TrialRow] = []
    multi: list[tuple[Any, tuple[str, ...]]] = []
    for name in studies:
        study = open_study(name, backend, load_only=True)
        objectives = tuple((study.user_attrs.get("settings") or {}).get("objectives") or ("accuracy",))
        if len(study.directions) > 1 and len(objectives) == len(study.directions):
            multi.append((study, objectives))
        for t in study.get_trials(deepcopy=False):
            costs = {k: float(t.user_attrs[k]) for k in COST_KEYS.values() if k in t.user_attrs}
            rows.append(TrialRow(name, t.number, t.state.name, t.user_attrs.get("strategy", "?"),
                                 float(t.values[0]) if t.state == TrialState.COMPLETE and t.values else None,
                                 t.user_attrs.get("genotype"), costs or None))
    complete = [r for r in rows if r.value is not None]
    best = max(complete, key=lambda r: r.value, default=None)
    out_dir = Path(out)
    try:
        best_path = None
        if best is not None and best.genotype is not None:
            best_path = write_best_genotype(out_dir / "best.json", best.genotype)
        plot_path = _plot(complete, out_dir / "best_so_far.png") if complete else None
        report = SearchReport(rows, best, best_path, plot_path)
        if multi:
            report.pareto, report.pareto_paths, report.pareto_plots = {}, {}, {}
        for study, objectives in multi:
            report.pareto[study.study_name], report.pareto_paths[study.study_name], report.pareto_plots[
                study.study_name] = _write_front(study, objectives, out_dir, len(studies) > 1)
    except OSError as exc:
        where = exc.filename or out
        raise ConfigError(f"search-report: cannot write {str(where)!r} ({exc.strerror or exc}); check --out "
                          f"{out!r}") from None
    return report


def _write_front(study: Any, objectives: tuple[str, ...], out_dir: Path, several: bool
                 ) -> tuple[list[dict[str, Any]], Path, Path | None]:
    from cnnlab.nas.pareto import write_pareto

    folder = out_dir if not several else out_dir / f"pareto-{study.study_name}"
    front, path = write_pareto(study, objectives, folder)
    trials = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    settings = study.user_attrs.get("settings") or {}
    plot = pareto_plot(trials, front, objectives, folder / "pareto.png", settings, study.study_name)
    return front, path, plot


def lecture_costs(shape: Any, networks: tuple[str, ...] = LECTURE_NETWORKS) -> tuple[dict[str, dict[str, int]], list[str]]:
    """MACs and parameters per image of the lecture's networks at ``shape`` (a
    :class:`cnnlab.nas.objectives.ChildShape`: classes, channels, image size), measured with
    :func:`cnnlab.inspect` on the meta device; and the names that cannot run at that input."""
    import torch

    import cnnlab
    from cnnlab.analysis import inspect

    costs, skipped = {}, []
    for name in networks:
        try:
            with torch.device("meta"):
                model = cnnlab.create_model(name, num_classes=shape.num_classes, in_chans=shape.in_chans)
            report = inspect(model, shape.input_size())
        except (ConfigError, RuntimeError, ValueError):
            skipped.append(name)
            continue
        costs[name] = {"macs": int(report.macs), "params": int(report.params)}
    return costs, skipped


def _search_shape(settings: dict[str, Any]) -> Any:
    """The input of the search (its data's facts; digits' for toy; the benchmark's for nb201:*)."""
    from cnnlab.nas.evaluate import ChildBudget, child_shape

    try:
        return child_shape(settings.get("data", "digits"), ChildBudget(C=settings.get("C", 8) or 8,
                                                                        N=settings.get("N", 1) or 1))
    except ConfigError:
        return None


def pareto_plot(trials: list[Any], front: list[dict[str, Any]], objectives: tuple[str, ...], path: Path,
                settings: dict[str, Any], title: str) -> Path | None:
    """Accuracy against the first cost objective: every completed child, the Pareto front, and the lecture's
    networks as vertical lines at their cost (MACs or parameters) at the search's input size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cost = objectives[1]
    xs = [float(t.values[1]) for t in trials]
    ys = [float(t.values[0]) for t in trials]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(xs, ys, s=14, color="0.6", label=f"completed children ({len(trials)})")
    fx = [r[cost] for r in front]
    fy = [r["accuracy"] for r in front]
    ax.step(fx, fy, where="post", color="C3", marker="o", label=f"Pareto front ({len(front)})")
    caption = ""
    shape = _search_shape(settings)
    if cost in ("macs", "params") and shape is not None:
        lecture, skipped = lecture_costs(shape)
        for i, (name, c) in enumerate(sorted(lecture.items(), key=lambda kv: kv[1][cost])):
            ax.axvline(c[cost], color=f"C{i % 10}", linestyle="--", linewidth=1)
            ax.text(c[cost], 0.98, f"{name} ", rotation=90, va="top", ha="right", fontsize=7,
                    transform=ax.get_xaxis_transform())
        caption = (f"dashed: lecture networks' {cost} at {shape.label()} (cnnlab.inspect; their accuracy under this "
                   "budget is not known)" + (f"; cannot run at this input: {', '.join(skipped)}" if skipped else ""))
    ax.set_xscale("log")
    ax.set_xlabel({"macs": "MACs per image", "params": "parameters", "latency": "latency (ms, 1 image, CPU)"}[cost])
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"study {title}: accuracy vs {cost}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    if caption:
        fig.text(0.01, 0.01, caption, fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.05 if caption else 0, 1, 1))
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return path


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
