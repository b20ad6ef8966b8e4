"""``run_compare``: measure, train (resumably) and report a set of models in one output folder.

Outputs in ``config.out``: ``comparison.csv``, ``comparison.md``, ``comparison.png``,
``comparison.svg``, ``report.html`` and ``runs/<model>/`` (one training run per model).
"""

from __future__ import annotations

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
from cnnlab.compare.diagram import render_diagram
from cnnlab.compare.latency import cpu_model
from cnnlab.compare.measure import LatencySettings, measure_compute, stage_table_of
from cnnlab.compare.published import published_facts
from cnnlab.compare.report import ModelSection, ReportPage, render_report, stage_table_to_html
from cnnlab.compare.specs import ModelSpec
from cnnlab.compare.structure import describe_structure
from cnnlab.compare.table import ComparisonRow, rows_to_csv, rows_to_markdown
from cnnlab.compare.training import TrainBudget, TrainOutcome, train_or_resume
from cnnlab.data.transforms import image_size_pair
from cnnlab.errors import ConfigError
from cnnlab.train.run_files import check_folder, prepare_folder, writing

__all__ = ["CompareConfig", "CompareResult", "run_compare", "COLUMN_NOTES"]

COLUMN_NOTES = [
    ("params", "all parameters of the model built for this dataset (its classifier has num_classes outputs)"),
    ("MACs", "multiply-accumulates of one image at the comparison's input size, from cnnlab.inspect"),
    ("RF (px)", "theoretical receptive field at the last feature map with spatial extent, in input pixels"),
    ("peak act.", "peak bytes of activations alive at once (cnnlab.inspect, tensor liveness, batch 1)"),
    ("peak meas.", "peak bytes of intermediate tensors alive at once, measured in a real forward (batch 1)"),
    ("CPU ms b1 / b32", "median wall time of one forward pass of a batch of 1 / 32 on this CPU, "
                        "after warm-up, with a pinned thread count"),
    ("val / test top-1 %", "best validation accuracy and final test accuracy under the shared training budget"),
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
    epochs: int = 1
    batch_size: int = 128
    limit_train: int | None = None
    limit_eval: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    seed: int = 0
    # Short budgets leave BatchNorm's running statistics behind the weights (evaluation can drop to
    # chance); recomputing them over this many training batches after each epoch removes that lag.
    precise_bn_batches: int = 50
    latency: LatencySettings = field(default_factory=LatencySettings)
    use_dot: bool = True
    progress: bool = True
    title: str | None = None
    limit_val: int | None = None  # validation images per epoch (None: limit_eval)
    channels_last: bool | None = None  # training layout; None: the trainer's rule (cnnlab.train.layout)

    def __post_init__(self) -> None:
        """Every value checked before anything is measured or trained."""
        where = "compare"
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
                )
            )
            progress.advance(task)
        _write_tables(out, rows)

        budget = None
        if config.train:
            budget, bundle = _load_data(config, input_chw)
            task = progress.add_task("training", total=len(specs))
            for spec, row in zip(specs, rows, strict=True):
                progress.update(task, description=f"training {spec.name}")
                outcome = train_or_resume(
                    models[spec.name], bundle, budget, out / "runs" / spec.name, progress=config.progress
                )
                training[spec.name] = outcome
                _fill_training(row, outcome)
                _report_outcome(console, spec.name, outcome)
                _write_tables(out, rows)
                progress.advance(task)

    files = _write_outputs(out, rows, sections, config, input_chw, budget, renderer, time.perf_counter() - started)
    return CompareResult(out, rows, files, renderer, time.perf_counter() - started, training)


def _load_data(config: CompareConfig, input_chw: tuple[int, int, int]):
    from cnnlab.data import make_loaders

    bundle = make_loaders(
        config.data,
        batch_size=config.batch_size,
        seed=config.seed,
        image_size=input_chw[1:],
        in_chans=input_chw[0],
        root=config.data_root,
        limit_train=config.limit_train,
        limit_val=config.limit_eval if config.limit_val is None else config.limit_val,
        limit_test=config.limit_eval,
    )
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
    )
    return budget, bundle


def _fill_training(row: ComparisonRow, outcome: TrainOutcome) -> None:
    row.epochs = outcome.epochs
    row.train_images = outcome.train_images
    row.val_top1 = outcome.val_top1
    row.test_top1 = outcome.test_top1
    row.train_images_per_second = outcome.images_per_second


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
) -> dict[str, Path]:
    files = {name: out / name for name in ("comparison.csv", "comparison.md", "comparison.png", "comparison.svg",
                                           "report.html")}
    published, measured = _chart_points(rows)
    input_text = "x".join(map(str, input_chw))
    measured_title = f"Measured here: {budget.data if budget else config.data}, {input_text}"
    if budget:
        measured_title += f", {budget.epochs} epoch{'s' * (budget.epochs != 1)}, {rows[0].train_images} images"
    with writing(files["comparison.png"]):
        draw_comparison_chart(
            published, measured, files["comparison.png"], files["comparison.svg"],
            measured_title=measured_title, measured_xlabel=f"MACs per image at {input_text} (log scale)",
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
    page = ReportPage(
        title=config.title or "cnnlab comparison",
        meta=meta,
        rows=rows,
        chart_svg=files["comparison.svg"].read_bytes(),
        models=sections,
        column_notes=COLUMN_NOTES,
    )
    with writing(files["report.html"]):
        atomic_write_text(files["report.html"], render_report(page))
    return files


def _budget_text(budget: TrainBudget | None, rows: list[ComparisonRow]) -> str:
    if budget is None:
        return "not trained (--no-train)"
    parts = [
        f"{budget.epochs} epoch(s)",
        f"batch {budget.batch_size}",
        f"{rows[0].train_images} training images" if rows and rows[0].train_images else "",
        f"val/test limited to {budget.limit_eval} images" if budget.limit_eval else "",
        f"validation on {budget.limit_val} images" if budget.limit_val else "",
        {None: "", True: "channels_last", False: "NCHW"}[budget.channels_last],
        f"optimizer {budget.optimizer}" if budget.optimizer else "trainer's default optimizer",
        f"lr {budget.lr}" if budget.lr else "",
        f"BatchNorm statistics recomputed over {budget.precise_bn_batches} batches" if budget.precise_bn_batches else "",
        f"seed {budget.seed}",
    ]
    return ", ".join(p for p in parts if p)
