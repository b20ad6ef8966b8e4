"""``run_compare``: measure, train (resumably) and report a set of models in one output folder.

Outputs in ``config.out``: ``comparison.csv``, ``comparison.md``, ``comparison.png``,
``comparison.svg``, ``report.html``, ``learning_curves.png``/``.svg`` (when trained) and ``runs/<model>/``
(one training run per model; ``runs/<model>@seed<S>/`` for the further seeds of ``seeds``).

Budgets (``budget``): ``"demo"``, the short run whose options the caller sets (``epochs``, ``lr``, ...; or a
``recipe`` of ``cnnlab.train.recipes``); ``"converged"``, the recipe of that name on every training image
(no validation split), with the per-epoch curve on the test set (docs/compare.md).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cnnlab.arith.checks import (
    require_choice,
    require_non_negative,
    require_positive,
    require_range,
    require_seed,
)
from cnnlab.atomic import atomic_write_text
from cnnlab.compare.chart import ChartPoint, draw_comparison_chart
from cnnlab.compare.curves import Curve, draw_learning_curves, read_curve
from cnnlab.compare.diagram import render_diagram
from cnnlab.compare.error_bars import binomial_two_sigma_pct, seed_sd_pct
from cnnlab.compare.latency import cpu_model
from cnnlab.compare.measure import LatencySettings, measure_compute, stage_table_of
from cnnlab.compare.published import published_facts
from cnnlab.compare.recorded import RecordedRun, load_recorded
from cnnlab.compare.report import ModelSection, ReportPage, render_report, safe_name, stage_table_to_html
from cnnlab.compare.specs import ModelSpec
from cnnlab.compare.structure import describe_structure
from cnnlab.compare.table import ComparisonRow, rows_to_csv, rows_to_markdown
from cnnlab.compare.training import TrainBudget, TrainOutcome, train_or_resume
from cnnlab.data.transforms import image_size_pair
from cnnlab.errors import ConfigError
from cnnlab.train.run_files import check_folder, prepare_folder, writing

__all__ = ["BUDGETS", "CompareConfig", "CompareResult", "run_compare", "COLUMN_NOTES"]

BUDGETS = ("demo", "converged")
# the demo budget's defaults of the options a recipe would otherwise set
_DEMO_DEFAULTS = {"epochs": 1, "batch_size": 128, "precise_bn_batches": 50}

COLUMN_NOTES = [
    ("params", "all parameters of the model built for this dataset (its classifier has num_classes outputs)"),
    ("MACs", "multiply-accumulates of one image at the comparison's input size, from cnnlab.inspect"),
    ("RF (px)", "theoretical receptive field at the last feature map with spatial extent, in input pixels"),
    ("peak act.", "peak bytes of activations alive at once (cnnlab.inspect, tensor liveness, batch 1)"),
    ("peak meas.", "peak bytes of intermediate tensors alive at once, measured in a real forward (batch 1)"),
    ("CPU ms b1 / b32", "median wall time of one forward pass of a batch of 1 / 32 on this CPU, "
                        "after warm-up, with a pinned thread count"),
    ("val / test top-1 %", "best validation accuracy and final test accuracy under the shared training budget "
                           "(mean over seeds when there are several)"),
    ("± 2σ binomial", "sampling error of the test accuracy p on n test images: 2·sqrt(p(1-p)/n)"),
    ("seed sd", "sample standard deviation of the test accuracy over the seeds (shown with ≥ 2 seeds)"),
    ("ImageNet columns", "published ImageNet-1K numbers at 224×224 with their source; — where none is published"),
]  # fmt: skip


@dataclass
class CompareConfig:
    """Everything one comparison run depends on (the CLI fills it from its options)."""

    out: Path
    data: str = "fashion-mnist"
    data_root: str | None = None
    image_size: int | None = 32
    train: bool = True
    epochs: int | None = None  # None: the budget's (demo: 1; a recipe: its own)
    batch_size: int | None = None  # None: the budget's (demo: 128; a recipe: its own)
    limit_train: int | None = None
    limit_eval: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    seed: int = 0
    # Short budgets leave BatchNorm's running statistics behind the weights (evaluation can drop to
    # chance); recomputing them over this many training batches after each epoch removes that lag.
    precise_bn_batches: int | None = None  # None: the budget's (demo: 50; a recipe: its own)
    latency: LatencySettings = field(default_factory=LatencySettings)
    use_dot: bool = True
    progress: bool = True
    title: str | None = None
    limit_val: int | None = None  # validation images per epoch (None: limit_eval)
    channels_last: bool | None = None  # training layout; None: the trainer's rule (cnnlab.train.layout)
    budget: str = "demo"  # "demo" | "converged" (see the module's docstring)
    recipe: str | None = None  # a training recipe (cnnlab.train.recipes); "converged" under that budget
    seeds: int = 1  # each model trains with seeds seed, seed + 1, ...; the table shows their mean and spread

    def __post_init__(self) -> None:
        """Every value checked before anything is measured or trained."""
        where = "compare"
        self._resolve_budget(where)
        if self.image_size is not None:
            image_size_pair(self.image_size, where)
        require_seed("seed", self.seed, where)
        if not isinstance(self.latency, LatencySettings):
            raise ConfigError(f"{where}: latency must be a LatencySettings, got {type(self.latency).__name__}")
        if not self.train:
            return
        require_positive("epochs", self.epochs, where)
        require_positive("batch_size", self.batch_size, where)
        require_non_negative("precise_bn_batches", self.precise_bn_batches, where)
        for name in ("limit_train", "limit_eval", "limit_val"):
            if getattr(self, name) is not None:
                require_positive(name, getattr(self, name), where)
        if self.lr is not None:
            require_range("lr", self.lr, 0.0, None, where, low_open=True)
        require_choice("channels_last", self.channels_last, (None, False, True), where)
        require_positive("seeds", self.seeds, where)

    def _resolve_budget(self, where: str) -> None:
        """Fill ``epochs``, ``batch_size`` and ``precise_bn_batches`` from the budget or recipe; a recipe
        fixes the optimizer, lr and BatchNorm recomputation, so giving those too is a ConfigError."""
        require_choice("budget", self.budget, BUDGETS, where)
        if self.budget == "converged":
            if self.recipe not in (None, "converged"):
                raise ConfigError(f"{where}: --budget converged trains with the converged recipe, not "
                                  f"--recipe {self.recipe!r}")  # fmt: skip
            self.recipe = "converged"
        if self.recipe is None:
            for name, value in _DEMO_DEFAULTS.items():
                if getattr(self, name) is None:
                    setattr(self, name, value)
            return
        from cnnlab.train.recipes import recipe_settings

        settings = recipe_settings(self.recipe, f"{where} --recipe")
        fixed = {k: getattr(self, k) for k in ("optimizer", "lr", "precise_bn_batches") if getattr(self, k) is not None}
        if fixed:
            given = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in fixed.items())
            raise ConfigError(f"{where}: the {self.recipe} recipe fixes the optimizer, lr and BatchNorm "
                              f"recomputation; drop {given}")  # fmt: skip
        self.precise_bn_batches = settings["precise_bn_batches"]
        self.epochs = settings["epochs"] if self.epochs is None else self.epochs
        self.batch_size = settings["batch_size"] if self.batch_size is None else self.batch_size


@dataclass
class CompareResult:
    out: Path
    rows: list[ComparisonRow]
    files: dict[str, Path]
    diagram_renderer: str
    seconds: float
    training: dict[str, TrainOutcome] = field(default_factory=dict)  # by model name, when trained


def _dataset_input(config: CompareConfig) -> tuple[int, tuple[int, int, int]]:
    """(num_classes, (C, H, W)) the models are built and measured for, from the data catalog (no image read)."""
    from cnnlab.data.catalog import dataset_facts

    facts = dataset_facts(config.data)
    if config.image_size is not None:
        height, width = image_size_pair(config.image_size, "compare")
    elif facts.image_size is not None:
        height, width = facts.image_size
    else:
        raise ConfigError(f"the images of {config.data} differ in size: pass --image-size (image_size=)")
    return facts.num_classes, (facts.in_chans, height, width)


def _published_columns(name: str) -> dict:
    facts = published_facts(name)
    if facts is None:
        return {}
    return {
        "imagenet_top1": facts.top1,
        "imagenet_macs": facts.macs,
        "imagenet_params": facts.params,
        "imagenet_source": facts.source,
    }


def _chart_points(rows: list[ComparisonRow]) -> tuple[list[ChartPoint], list[ChartPoint]]:
    published = [
        ChartPoint(r.model, r.family, r.imagenet_macs, r.imagenet_top1, r.imagenet_params)
        for r in rows
        if r.imagenet_top1 is not None and r.imagenet_macs and r.imagenet_params
    ]
    measured = []
    for r in rows:
        accuracy = r.test_top1 if r.test_top1 is not None else r.val_top1
        if accuracy is not None and r.macs > 0:
            measured.append(ChartPoint(r.model, r.family, r.macs, accuracy, r.params))
    return published, measured


def _write_tables(out: Path, rows: list[ComparisonRow]) -> None:
    for name, text in (("comparison.csv", rows_to_csv(rows)), ("comparison.md", rows_to_markdown(rows))):
        with writing(out / name):
            atomic_write_text(out / name, text)


def _make_progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def _write_explorer(model: torch.nn.Module, name: str, input_chw: tuple[int, ...], out: Path) -> str:
    """The model's ``cnnlab explore`` page beside the report (no effective fields: no image); its relative link."""
    from cnnlab.explore import explore

    page = out / "explore" / f"{safe_name(name)}.html"
    with writing(page, "the explorer page"):
        page.parent.mkdir(parents=True, exist_ok=True)
        explore(model, (1, *input_chw), out=page, name=name, effective=False)
    return f"explore/{page.name}"


def run_compare(specs: list[ModelSpec], config: CompareConfig, console: Console | None = None) -> CompareResult:
    """Measure every model, train it under one budget unless ``config.train`` is False, and report."""
    console = console or Console()
    started = time.perf_counter()
    num_classes, input_chw = _dataset_input(config)
    in_chans = input_chw[0]
    out = prepare_folder(check_folder(config.out, "--out"), "--out")

    models: dict[str, torch.nn.Module] = {}
    rows: list[ComparisonRow] = []
    sections: list[ModelSection] = []
    renderer = "none"
    training: dict[str, TrainOutcome] = {}
    with _make_progress(console, config.progress) as progress:
        task = progress.add_task("measuring", total=len(specs))
        for spec in specs:
            progress.update(task, description=f"measuring {spec.name}")
            torch.manual_seed(config.seed)
            model = spec.build(num_classes, in_chans)
            models[spec.name] = model
            compute = measure_compute(model, input_chw, config.latency)
            rows.append(
                ComparisonRow(
                    model=spec.name,
                    family=spec.family,
                    paper=spec.paper,
                    input_shape="x".join(str(d) for d in input_chw),
                    params=compute.params,
                    macs=compute.macs,
                    flops=compute.flops,
                    receptive_field_px=compute.receptive_field_px,
                    peak_activation_bytes=compute.peak_activation_bytes,
                    measured_peak_bytes=compute.measured_peak_bytes,
                    latency_b1_ms=compute.latency_ms.get(1),
                    latency_b32_ms=compute.latency_ms.get(32),
                    threads=config.latency.threads,
                    **_published_columns(spec.name),
                )
            )
            diagram = render_diagram(
                describe_structure(model, (1, *input_chw)),
                f"{spec.name} at {'x'.join(map(str, input_chw))}",
                id_prefix=f"d{len(sections)}",
                use_dot=config.use_dot,
            )
            renderer = diagram.renderer
            sections.append(
                ModelSection(
                    name=spec.name,
                    family=spec.family,
                    paper=spec.paper,
                    stage_table_html=stage_table_to_html(stage_table_of(model, input_chw)),
                    diagram=diagram,
                    explore_href=_write_explorer(model, spec.name, input_chw, out),
                )
            )
            progress.advance(task)
        _write_tables(out, rows)

        budget = None
        if config.train:
            budget, bundle = _load_data(config, input_chw)
            task = progress.add_task("training", total=len(specs) * config.seeds)
            for spec, row in zip(specs, rows, strict=True):
                outcomes = []
                for run_name, seed in _seed_runs(spec.name, config):
                    progress.update(task, description=f"training {run_name}")
                    if seed != config.seed:  # a further seed: its own initialisation
                        torch.manual_seed(seed)
                        models[spec.name] = spec.build(num_classes, in_chans)
                    run_budget = dataclasses.replace(budget, seed=seed)
                    outcome = train_or_resume(models[spec.name], bundle, run_budget, out / "runs" / run_name,
                                              progress=config.progress)  # fmt: skip
                    training[run_name] = outcome
                    outcomes.append(outcome)
                    _report_outcome(console, run_name, outcome)
                    progress.advance(task)
                _fill_training(row, outcomes)
                _write_tables(out, rows)

    curves = _learning_curves(out, specs, config) if budget is not None else []
    files = _write_outputs(out, rows, sections, config, input_chw, budget, renderer, time.perf_counter() - started,
                           curves, training)  # fmt: skip
    return CompareResult(out, rows, files, renderer, time.perf_counter() - started, training)


def _seed_runs(name: str, config: CompareConfig) -> list[tuple[str, int]]:
    """(run folder name, seed) of each training run of model ``name``: the first seed keeps the plain name."""
    seeds = [config.seed + k for k in range(config.seeds)]
    return [(name if seed == config.seed else f"{name}@seed{seed}", seed) for seed in seeds]


def _load_data(config: CompareConfig, input_chw: tuple[int, int, int]):
    from cnnlab.data import make_loaders

    converged = config.budget == "converged"
    bundle = make_loaders(
        config.data,
        batch_size=config.batch_size,
        seed=config.seed,
        image_size=input_chw[1:],
        in_chans=input_chw[0],
        root=config.data_root,
        limit_train=config.limit_train,
        limit_val=None if converged else (config.limit_eval if config.limit_val is None else config.limit_val),
        limit_test=config.limit_eval,
        val_fraction=0.0 if converged else 0.1,
    )
    if converged:  # every training image trains; the per-epoch curve is the test set's (chosen from nothing)
        bundle = dataclasses.replace(bundle, val=bundle.test)
    budget = TrainBudget(
        data=bundle.name,
        image_size=tuple(input_chw[1:]),  # type: ignore[arg-type]
        in_chans=input_chw[0],
        epochs=config.epochs,
        batch_size=config.batch_size,
        limit_train=config.limit_train,
        limit_eval=config.limit_eval,
        optimizer=config.optimizer,
        lr=config.lr,
        seed=config.seed,
        precise_bn_batches=config.precise_bn_batches,
        limit_val=config.limit_val,
        channels_last=config.channels_last,
        recipe=config.recipe,
        name=None if config.budget == "demo" else config.budget,
    )
    return budget, bundle


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) == len(values) else None


def _fill_training(row: ComparisonRow, outcomes: list[TrainOutcome]) -> None:
    """A model's row from its runs (one per seed): mean accuracies, the binomial 2σ of the mean test accuracy
    on the test set's size, and the seed spread."""
    first = outcomes[0]
    row.epochs = first.epochs
    row.train_images = first.train_images
    row.val_top1 = _mean([o.val_top1 for o in outcomes])
    row.test_top1 = _mean([o.test_top1 for o in outcomes])
    row.train_images_per_second = _mean([o.images_per_second for o in outcomes])
    row.seeds = len(outcomes)
    row.test_images = first.test_images
    if row.test_top1 is not None and first.test_images:
        row.test_top1_2sigma = binomial_two_sigma_pct(row.test_top1, first.test_images)
    tests = [o.test_top1 for o in outcomes if o.test_top1 is not None]
    row.test_top1_seed_sd = seed_sd_pct(tests) if len(tests) == len(outcomes) else None


def _learning_curves(out: Path, specs: list[ModelSpec], config: CompareConfig) -> list[Curve]:
    """Every run's curve from its metrics.jsonl: validation accuracy per epoch, or test accuracy under the
    converged budget."""
    split = "test" if config.budget == "converged" else "validation"
    curves = []
    for spec in specs:
        for run_name, _ in _seed_runs(spec.name, config):
            curve = read_curve(out / "runs" / run_name / "metrics.jsonl", run_name, spec.family, split)
            if curve is not None:
                curves.append(curve)
    return curves


def _write_curves(out: Path, files: dict[str, Path], curves: list[Curve], training: dict[str, TrainOutcome],
                  title: str) -> tuple[bytes | None, str]:  # fmt: skip
    """learning_curves.png/.svg; the SVG's bytes and the note under it (None, "" without curves)."""
    if not curves:
        return None, ""
    bars: dict[str, float] = {}
    if curves[0].split == "test":  # the last point of a test curve is the run's test accuracy
        for curve in curves:
            outcome = training.get(curve.label)
            if outcome is not None and outcome.test_images:
                bars[curve.label] = binomial_two_sigma_pct(curve.accuracy_pct[-1], outcome.test_images)
    files["learning_curves.png"], files["learning_curves.svg"] = out / "learning_curves.png", out / "learning_curves.svg"
    with writing(files["learning_curves.png"]):
        draw_learning_curves(curves, files["learning_curves.png"], files["learning_curves.svg"], title, bars)
    note = (f"{curves[0].split.capitalize()} accuracy after each epoch, read from each run's metrics.jsonl; "
            "CPU seconds are the training passes' process time (all threads), summed over epochs.")
    if bars:
        note += (" The bar at each run's last point is the binomial ±2σ of its test accuracy "
                 "(2·sqrt(p(1-p)/n)). Under this budget the test curve chooses nothing: the recipe and its "
                 "epochs are fixed in advance and the last epoch is reported.")
    return files["learning_curves.svg"].read_bytes(), note


def _report_outcome(console: Console, name: str, outcome: TrainOutcome) -> None:
    how = "already trained, skipped" if outcome.skipped else ("resumed and finished" if outcome.resumed else "trained")
    test = "—" if outcome.test_top1 is None else f"{outcome.test_top1:.2f}%"
    console.print(f"  {name}: {how}; test top-1 {test}")


def _write_outputs(
    out: Path,
    rows: list[ComparisonRow],
    sections: list[ModelSection],
    config: CompareConfig,
    input_chw: tuple[int, int, int],
    budget: TrainBudget | None,
    renderer: str,
    seconds: float,
    curves: list[Curve] | None = None,
    training: dict[str, TrainOutcome] | None = None,
) -> dict[str, Path]:
    files = {name: out / name for name in ("comparison.csv", "comparison.md", "comparison.png", "comparison.svg",
                                           "report.html")}
    published, measured = _chart_points(rows)
    input_text = "x".join(map(str, input_chw))
    recorded = _recorded_for(budget, input_chw)
    measured_title = f"Measured here: {budget.data if budget else config.data}, {input_text}"
    if budget:
        measured_title += f", {budget.epochs} epoch{'s' * (budget.epochs != 1)}, {rows[0].train_images} images"
    with writing(files["comparison.png"]):
        draw_comparison_chart(
            published, measured, files["comparison.png"], files["comparison.svg"],
            measured_title=measured_title, measured_xlabel=f"MACs per image at {input_text} (log scale)",
            recorded=None if recorded is None else [
                ChartPoint(r.model, r.family, r.macs, r.test_top1, r.params) for r in recorded.rows],
            recorded_caption="" if recorded is None else recorded.caption,
        )  # fmt: skip
    meta = [
        ("dataset", str(budget.data if budget else config.data)),
        ("input (C×H×W)", input_text),
        ("training budget", _budget_text(budget, rows)),
        ("latency", f"median of {config.latency.repeats} runs after {config.latency.warmup} warm-up, "
                    f"{config.latency.threads} thread(s), batch sizes {list(config.latency.batch_sizes)}"),
        ("CPU", cpu_model()),
        ("torch", torch.__version__),
        ("diagrams", renderer),
        ("generated", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + f" in {seconds:.0f} s"),
    ]  # fmt: skip
    curves_svg, curves_note = _write_curves(out, files, curves or [], training or {},
                                            f"Learning curves: {measured_title.removeprefix('Measured here: ')}")
    page = ReportPage(
        title=config.title or "cnnlab comparison",
        meta=meta,
        rows=rows,
        chart_svg=files["comparison.svg"].read_bytes(),
        models=sections,
        column_notes=COLUMN_NOTES,
        curves_svg=curves_svg,
        curves_note=curves_note,
        recorded=recorded,
    )
    with writing(files["report.html"]):
        atomic_write_text(files["report.html"], render_report(page))
    return files


def _recorded_for(budget: TrainBudget | None, input_chw: tuple[int, int, int]) -> RecordedRun | None:
    """The converged accuracies recorded for this data and square image size, shown beside a short run
    (a converged run shows only its own)."""
    if budget is None or budget.name == "converged" or input_chw[1] != input_chw[2]:
        return None
    return load_recorded(budget.data, input_chw[1])


def _budget_text(budget: TrainBudget | None, rows: list[ComparisonRow]) -> str:
    if budget is None:
        return "not trained (--no-train)"
    parts = [
        "converged budget" if budget.name == "converged" else "",
        f"recipe {budget.recipe} (cnnlab.train.recipes)" if budget.recipe else "",
        f"{budget.epochs} epoch(s)",
        f"batch {budget.batch_size}",
        f"{rows[0].train_images} training images" if rows and rows[0].train_images else "",
        f"val/test limited to {budget.limit_eval} images" if budget.limit_eval else "",
        f"validation on {budget.limit_val} images" if budget.limit_val else "",
        {None: "", True: "channels_last", False: "NCHW"}[budget.channels_last],
        f"optimizer {budget.optimizer}" if budget.optimizer else ("" if budget.recipe else "trainer's default optimizer"),
        f"lr {budget.lr}" if budget.lr else "",
        f"BatchNorm statistics recomputed over {budget.precise_bn_batches} batches" if budget.precise_bn_batches else "",
        f"seed {budget.seed}",
    ]
    return ", ".join(p for p in parts if p)
