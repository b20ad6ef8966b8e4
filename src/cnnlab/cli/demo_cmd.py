"""``cnnlab demo``: the lecture's arithmetic, then a small comparison of lecture networks, in minutes.

The default budget (one epoch on a seeded subset of Fashion-MNIST at 32x32) is sized for a few
minutes on 2 CPU cores; see docs/compare.md for the measured time. Re-running resumes in place.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.errors import ConfigError

__all__ = ["register", "demo_command", "DEMO_MODELS", "DEMO_BUDGET", "choose_dataset"]

# The lecture's families: ResNet, MobileNet v1/v2, GoogLeNet (Inception), VGG.
DEMO_MODELS = ("resnet18", "mobilenet_v1", "mobilenet_v2", "googlenet", "vgg11_bn")
# Shared training budget of the demo (measured: see docs/compare.md).
# SGD (momentum 0.9, cosine) at lr 0.01: at the trainer's default lr 0.05 VGG-11-BN diverges within
# these 63 steps (val 19 % even with warm-up), at 0.01 it learns (val 69 %). After so few steps the
# MobileNets' BatchNorm running statistics lag the weights (eval accuracy 11-19 % against 63-69 % with
# recomputed statistics), so they are recomputed over 50 training batches. See docs/compare.md.
DEMO_BUDGET = {"epochs": 1, "limit_train": 4000, "limit_eval": 1000, "batch_size": 64, "image_size": 32,
               "optimizer": "sgd", "lr": 0.01, "precise_bn_batches": 50}
FASHION_MNIST_HELP = (
    "Fashion-MNIST was not found. Get it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, "
    "files under /usr/share/datasets/fashion-mnist), or put the four idx files from "
    "https://github.com/zalandoresearch/fashion-mnist under $CNNLAB_DATA/fashion-mnist. "
    "Falling back to scikit-learn's digits."
)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the ``cnnlab`` app."""
    app.command("demo")(demo_command)


def choose_dataset(wanted: str, console: Console, data_root: str | None = None) -> str:
    """``wanted`` if it can be read, else ``digits`` (after saying how to get Fashion-MNIST)."""
    from cnnlab.data import get_dataset

    if wanted == "digits":
        return wanted
    try:
        get_dataset(wanted, data_root, "test")
    except ConfigError as exc:
        console.print(f"[yellow]{escape(str(exc))}[/]")
        if wanted == "fashion-mnist":
            console.print(f"[yellow]{escape(FASHION_MNIST_HELP)}[/]")
        else:
            console.print("[yellow]Falling back to scikit-learn's digits.[/]")
        return "digits"
    return wanted


@reports_config_errors
def demo_command(
    out: Path = typer.Option(Path("reports/demo"), "--out", help="output folder (re-running resumes here)"),
    epochs: int = typer.Option(DEMO_BUDGET["epochs"], "--epochs", help="training epochs per model"),
    limit_train: int = typer.Option(DEMO_BUDGET["limit_train"], "--limit-train",
                                    help="training images per model (a seeded subset)"),
    limit_eval: int = typer.Option(DEMO_BUDGET["limit_eval"], "--limit-eval", help="val/test images per model"),
    models: str = typer.Option(",".join(DEMO_MODELS), "--models", help="comma-separated model names"),
    data: str = typer.Option("fashion-mnist", "--data", help="dataset (falls back to digits if absent)"),
    data_root: str = typer.Option(None, "--data-root", help="folder holding the dataset files"),
    skip_tour: bool = typer.Option(False, "--skip-tour", help="do not print the arithmetic tour"),
) -> None:
    """Arithmetic tour, then compare lecture networks on Fashion-MNIST with a small budget."""
    from cnnlab.cli.compare_cmd import print_summary
    from cnnlab.compare import CompareConfig, LatencySettings, run_compare, specs_from_registry

    console = Console()
    if not skip_tour:
        from cnnlab.cli.arith_cmd import arith_tour

        arith_tour(console)
    names = [n.strip() for n in models.split(",") if n.strip()]
    dataset = choose_dataset(data, console, data_root)
    console.rule(f"[bold]Comparing {len(names)} networks on {escape(dataset)}[/]")
    console.print(
        f"budget per model: {epochs} epoch(s), {limit_train} training images, batch "
        f"{DEMO_BUDGET['batch_size']}, {DEMO_BUDGET['optimizer'].upper()} lr {DEMO_BUDGET['lr']} (cosine), "
        f"BatchNorm statistics recomputed over {DEMO_BUDGET['precise_bn_batches']} batches, "
        f"{DEMO_BUDGET['image_size']}x{DEMO_BUDGET['image_size']} input, "
        f"val/test on {limit_eval} images; runs in {escape(str(out))}/runs resume if interrupted"
    )
    config = CompareConfig(
        out=out,
        data=dataset,
        data_root=data_root,
        image_size=DEMO_BUDGET["image_size"],
        epochs=epochs,
        batch_size=DEMO_BUDGET["batch_size"],
        limit_train=limit_train,
        limit_eval=limit_eval,
        optimizer=DEMO_BUDGET["optimizer"],
        lr=DEMO_BUDGET["lr"],
        precise_bn_batches=DEMO_BUDGET["precise_bn_batches"],
        latency=LatencySettings(warmup=2, repeats=5, threads=1),
        title=f"cnnlab demo: lecture networks on {dataset}",
    )
    result = run_compare(specs_from_registry(names), config, console)
    print_summary(console, result)
    console.print(f"[bold green]Open the report:[/] {escape(str(result.files['report.html'].resolve()))}")
