"""``cnnlab compare MODEL...``: one table, one chart and one HTML report comparing networks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnnlab.cli.config_errors import reports_config_errors

__all__ = ["register", "compare_command", "print_summary"]



def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``cnnlab`` app."""
    app.command("compare")(compare_command)


def print_summary(console: Console, result) -> None:  # noqa: ANN001 - a CompareResult
    """The comparison as a rich table, then where every file is."""
    from cnnlab.compare.table import MD_HEADERS, format_cell, markdown_columns

    shown = ("model", "params", "macs", "receptive_field_px", "latency_b1_ms", "test_top1", "imagenet_top1")
    columns = [c for c in markdown_columns(result.rows) if c in shown]
    table = Table(title="comparison", header_style="bold")
    for column in columns:
        table.add_column(MD_HEADERS[column], justify="left" if column in ("model", "family") else "right")
    for row in result.rows:
        table.add_row(*(format_cell(c, getattr(row, c)) for c in columns))
    console.print(table)
    for name, path in result.files.items():
        console.print(f"  {name:<15} {escape(str(path))}")
    console.print(f"[bold]report:[/] {escape(str(result.files['report.html'].resolve()))}  "
                  f"({result.seconds:.0f} s, diagrams: {result.diagram_renderer})")


@reports_config_errors
def compare_command(
    models: list[str] = typer.Argument(..., help="registered model names (see `cnnlab list`), each optionally NAME:key=value,... with builder arguments, e.g. nasnet:genotype=best.json"),
    data: str = typer.Option("fashion-mnist", "--data", help="dataset name or ImageFolder path"),
    data_root: str = typer.Option(None, "--data-root", help="folder holding the dataset files"),
    out: Path = typer.Option(Path("reports/compare"), "--out", help="output folder (re-runs resume here)"),
    image_size: int = typer.Option(32, "--image-size", help="square input size the models see (pads/resizes)"),
    no_train: bool = typer.Option(False, "--no-train", help="compute-only comparison: no training, seconds"),
    budget: str = typer.Option("demo", "--budget", help="demo: a short run set by the options below; converged: the converged recipe (SGD-Nesterov, cosine, label smoothing, crop+flip, precise BN) on every training image, test curve per epoch (docs/compare.md)"),
    recipe: str = typer.Option(None, "--recipe", help="train every model with a named recipe of cnnlab.train.recipes (fast, converged); it fixes optimizer, lr and BatchNorm recomputation"),
    seeds: int = typer.Option(1, "--seeds", help="train each model with this many seeds (--seed, --seed+1, ...): mean and seed spread in the table"),
    epochs: int = typer.Option(None, "--epochs", help="training epochs, the same for every model (default: 1, or the recipe's)"),
    batch_size: int = typer.Option(None, "--batch-size", help="training batch size (default: 128, or the recipe's)"),
    limit_train: int = typer.Option(None, "--limit-train", help="train on a seeded subset of this many images"),
    limit_eval: int = typer.Option(None, "--limit-eval", help="evaluate on at most this many val/test images"),
    limit_val: int = typer.Option(None, "--limit-val", help="validate each epoch on at most this many images (default: --limit-eval)"),
    optimizer: str = typer.Option(None, "--optimizer", help="sgd or adamw (default: the trainer's)"),
    lr: float = typer.Option(None, "--lr", help="peak learning rate (default: the trainer's)"),
    precise_bn_batches: int = typer.Option(None, "--precise-bn-batches", help="recompute BatchNorm statistics over this many training batches after each epoch (0: off; default 50, or the recipe's)"),
    seed: int = typer.Option(0, "--seed", help="seed of initialisation, split and data order"),
    threads: int = typer.Option(1, "--threads", help="CPU threads while timing latency (1 to the machine's logical CPUs)"),
    repeats: int = typer.Option(10, "--repeats", help="timed repeats per latency (median reported)"),
    no_dot: bool = typer.Option(False, "--no-dot", help="draw diagrams without graphviz"),
    channels_last: bool | None = typer.Option(None, "--channels-last/--no-channels-last", help="training memory layout (default: channels_last for convolutional networks, see cnnlab.train.layout)"),
) -> None:
    """Compare networks: params, MACs, receptive field, CPU latency, memory, accuracy, published numbers."""
    from cnnlab.compare import CompareConfig, LatencySettings, run_compare, specs_from_registry

    console = Console()
    config = CompareConfig(
        out=out,
        data=data,
        data_root=data_root,
        image_size=image_size,
        train=not no_train,
        budget=budget,
        recipe=recipe,
        seeds=seeds,
        epochs=epochs,
        batch_size=batch_size,
        limit_train=limit_train,
        limit_eval=limit_eval,
        limit_val=limit_val,
        channels_last=channels_last,
        optimizer=optimizer,
        lr=lr,
        precise_bn_batches=precise_bn_batches,
        seed=seed,
        latency=LatencySettings(warmup=min(3, repeats), repeats=repeats, threads=threads),
        use_dot=not no_dot,
    )
    result = run_compare(specs_from_registry(list(models)), config, console)
    print_summary(console, result)
