"""``cnnlab search`` and ``cnnlab search-report``: neural architecture search on an Optuna study."""

from __future__ import annotations

import json

import typer

from cnnlab.cli.config_errors import exit_on_config_error
from cnnlab.errors import ConfigError


def search_cmd(
    space: str = typer.Option("nasnet", help="nasnet | randwire | micro"),
    strategy: str = typer.Option("random", help="random | reinforce | evolution"),
    trials: int = typer.Option(20, help="completed trials the study should hold"),
    data: str = typer.Option("digits", help="digits | fashion-mnist (toy: a test objective)"),
    epochs_per_trial: int = typer.Option(1, help="training epochs per child"),
    storage: str | None = typer.Option(None, help="Optuna storage URL (default: journal file in --out)"),
    study: str | None = typer.Option(None, help="study name (default: SPACE-STRATEGY-DATA)"),
    out: str = typer.Option("runs/search", help="run folder: journal, strategy state, best.json"),
    seed: int = typer.Option(0, help="seed of the strategy and of the children's training"),
    worker: str = typer.Option("0", help="worker name; give each worker sharing one --out its own"),
    blocks: int = typer.Option(3, help="nasnet space: blocks per cell"),
    nodes: int = typer.Option(8, help="randwire space: nodes per stage"),
    channels: int = typer.Option(8, "--C", help="child width: channels of the first stage"),
    cells: int = typer.Option(1, "--N", help="nasnet child: normal cells per stage"),
    batch_size: int = typer.Option(64, help="child training batch size"),
    limit_train: int | None = typer.Option(None, help="cap on training images per child"),
    toy_seconds: float = typer.Option(0.0, hidden=True, help="toy objective: seconds per trial"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Search a space with a strategy; killed and started again with the same command, it resumes."""
    from cnnlab.nas.evaluate import ChildBudget
    from cnnlab.nas.search import search

    try:
        budget = ChildBudget(epochs=epochs_per_trial, batch_size=batch_size, limit_train=limit_train,
                             C=channels, N=cells, seed=seed)
        result = search(space=space, strategy=strategy, trials=trials, data=data,
                        epochs_per_trial=epochs_per_trial, storage=storage, study=study, out=out, seed=seed,
                        worker=worker, blocks=blocks, nodes=nodes, budget=budget, toy_seconds=toy_seconds,
                        progress=progress)
    except ConfigError as exc:
        exit_on_config_error(exc)
        return
    typer.echo(f"study {result.study_name}: {result.completed} completed trials "
               f"({result.run_by_this_worker} by this worker), best accuracy {result.best_value}")
    typer.echo(f"storage: {result.storage}")


def search_report_cmd(
    study: list[str] = typer.Option(..., help="study name; repeat to compare studies"),
    storage: str | None = typer.Option(None, help="Optuna storage URL (default: journal file in --out)"),
    out: str = typer.Option("runs/search", help="run folder: reads its journal, writes best.json and the plot"),
) -> None:
    """List a study's trials, write the best genotype (best.json) and a best-so-far plot."""
    from rich.console import Console
    from rich.table import Table

    from cnnlab.nas.report import search_report

    try:
        report = search_report(study, storage=storage, out=out)
    except ConfigError as exc:
        exit_on_config_error(exc)
        return
    table = Table()
    for name in ("study", "trial", "state", "strategy", "val acc"):
        table.add_column(name, no_wrap=True)
    table.add_column("genotype (best.json has it in full)", overflow="ellipsis", no_wrap=True, max_width=40)
    for r in report.rows:
        genotype = "" if r.genotype is None else json.dumps(r.genotype, separators=(",", ":"))
        table.add_row(r.study, str(r.number), r.state, r.strategy,
                      "" if r.value is None else f"{r.value:.4f}", genotype)
    Console().print(table)
    if report.best is not None:
        typer.echo(f"best: study {report.best.study} trial {report.best.number} accuracy {report.best.value:.4f}")
        typer.echo(f"best genotype written to {report.best_path}; plot: {report.plot_path}")


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
    app.command("search-report")(search_report_cmd)
