"""``cnnlab search`` and ``cnnlab search-report``: neural architecture search on an Optuna study."""

from __future__ import annotations

import json

import typer

from cnnlab.cli.config_errors import reports_config_errors


@reports_config_errors
def search_cmd(
    space: str = typer.Option("nasnet", help="nasnet | randwire | micro | nb201"),
    strategy: str = typer.Option("random", help="random | reinforce | evolution | local | tpe | oneshot "
                                                "(--space nb201: SPOS supernet, children inherit its weights)"),
    trials: int = typer.Option(20, help="completed trials the study should hold"),
    data: str = typer.Option("digits", help="digits | fashion-mnist | cifar10 | cifar100: children train; "
                                            "nb201:cifar10 | nb201:cifar100 | nb201:imagenet16-120: --space nb201 "
                                            "cells scored by the NAS-Bench-201 table (toy: a test objective)"),
    noise: float = typer.Option(0.0, help="nb201:* data: Gaussian noise (accuracy points) on each cell's table "
                                          "score, to model a short training run; one draw per cell and seed"),
    epochs_per_trial: int = typer.Option(1, help="training epochs per child"),
    supernet_epochs: int = typer.Option(10, help="--strategy oneshot: epochs of supernet training"),
    storage: str | None = typer.Option(None, help="Optuna storage URL (default: journal file in --out)"),
    study: str | None = typer.Option(None, help="study name (default: SPACE-STRATEGY-DATA)"),
    out: str = typer.Option("runs/search", help="run folder: journal, strategy state, best.json"),
    seed: int = typer.Option(0, help="seed of the strategy and of the children's training"),
    worker: str = typer.Option("0", help="worker name, one per running worker of a study"),
    blocks: int = typer.Option(3, help="nasnet space: blocks per cell (1..16)"),
    nodes: int = typer.Option(8, help="randwire space: nodes per stage (2..128)"),
    channels: int = typer.Option(8, "--C", help="child width: channels of the first stage"),
    cells: int = typer.Option(1, "--N", help="nasnet child: normal cells per stage"),
    batch_size: int = typer.Option(64, help="child training batch size"),
    limit_train: int | None = typer.Option(None, help="cap on training images per child"),
    channels_last: bool | None = typer.Option(
        None, "--channels-last/--no-channels-last",
        help="children's memory layout (default: the trainer's choice); pin it for the same numbers on every run"),
    max_failures: int = typer.Option(5, help="stop after this many children failed in a row"),
    heartbeat_s: int = typer.Option(10, help="seconds between a worker's heartbeats; a trial 5 beats late "
                                             "belongs to a dead worker and is run again"),
    objective: str = typer.Option("accuracy", help="accuracy, or accuracy plus costs to minimise: "
                                                   "accuracy,macs | accuracy,params | accuracy,latency (any of them): "
                                                   "a multi-objective study, its Pareto set in OUT/pareto.*"),
    max_macs: float | None = typer.Option(None, help="children with more MACs per image are not trained"),
    max_params: float | None = typer.Option(None, help="children with more parameters are not trained"),
    max_latency_ms: float | None = typer.Option(None, help="children slower than this (1 image, 1 CPU thread) are "
                                                           "not trained"),
    pruner: str = typer.Option("none", help="none | sha | hyperband: stop weak children after an epoch "
                                            "(one objective, children that train)"),
    prefilter: str | None = typer.Option(None, help="PROXY:K, e.g. synflow:8: score K candidates per proposal with "
                                                    "a zero-cost proxy, train the best"),
    toy_seconds: float = typer.Option(0.0, hidden=True, help="toy objective: seconds per trial"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Search a space with a strategy; killed and started again with the same command, it resumes.
    Writes the best genotype to OUT/best.json."""
    from cnnlab.nas.constraints import CostLimits
    from cnnlab.nas.evaluate import ChildBudget
    from cnnlab.nas.run import search

    budget = ChildBudget(epochs=epochs_per_trial, batch_size=batch_size, limit_train=limit_train,
                         C=channels, N=cells, seed=seed, channels_last=channels_last)
    result = search(space=space, strategy=strategy, trials=trials, data=data, storage=storage, study=study,
                    out=out, seed=seed, worker=worker, blocks=blocks, nodes=nodes, budget=budget,
                    toy_seconds=toy_seconds, progress=progress, max_failures=max_failures, heartbeat_s=heartbeat_s,
                    noise=noise, objectives=objective, pruner=pruner, prefilter=prefilter,
                    limits=CostLimits(max_macs=max_macs, max_params=max_params, max_latency_ms=max_latency_ms),
                    supernet_epochs=supernet_epochs)
    typer.echo(f"study {result.study_name}: {result.completed} completed trials "
               f"({result.run_by_this_worker} by this worker), best accuracy {result.best_value}")
    _echo_table_accuracy(data, result.best_genotype)
    typer.echo(f"storage: {result.storage}")
    if result.best_path is not None:
        typer.echo(f"best genotype: {result.best_path}")
    if result.pareto is not None:
        _echo_pareto(result.study_name, storage, out)


def _echo_pareto(study: str, storage: str | None, out: str) -> None:
    """A multi-objective study: its Pareto set as a table, and the plot."""
    from cnnlab.nas.report import search_report

    _echo_fronts(search_report([study], storage=storage, out=out))


def _echo_fronts(report) -> None:
    from cnnlab.nas.pareto import pareto_markdown

    for name, front in (report.pareto or {}).items():
        objectives = tuple(k for k in front[0] if k not in ("trial", "genotype")) if front else ("accuracy",)
        typer.echo(f"Pareto set of study {name} ({len(front)} children):")
        typer.echo(pareto_markdown(front, objectives).rstrip())
        typer.echo(f"Pareto set: {report.pareto_paths[name]} (.csv, .md); plot: {report.pareto_plots[name]}")


def _echo_table_accuracy(data: str, genotype: dict | None) -> None:
    """For a search scored by the NB201 table: the best cell's index and its noise-free test accuracy."""
    from cnnlab.nas.tabular import tabular_dataset

    dataset = tabular_dataset(data)
    if dataset is None or not genotype or genotype.get("space") != "nb201":
        return
    from cnnlab.nas.nb201_table import NB201Table

    table = NB201Table.load()
    best_index, best = table.optimum(dataset)
    index = table.index(genotype["arch"])
    typer.echo(f"best cell: NB201 index {index}, test accuracy {table.accuracy(index, dataset):.2f} % on {dataset} "
               f"(the table's optimum: {best:.2f} %, index {best_index})")


@reports_config_errors
def search_report_cmd(
    study: list[str] = typer.Option(..., help="study name; repeat to compare studies"),
    storage: str | None = typer.Option(None, help="Optuna storage URL (default: journal file in --out)"),
    out: str = typer.Option("runs/search", help="run folder: reads its journal, writes best.json and the plot"),
) -> None:
    """List a study's trials, write the best genotype (best.json) and a best-so-far plot."""
    from rich.console import Console
    from rich.table import Table

    from cnnlab.nas.report import search_report

    report = search_report(study, storage=storage, out=out)
    several = len(set(study)) > 1
    rows = [([r.study] if several else []) + [str(r.number), r.state, r.strategy,
                                              "" if r.value is None else f"{r.value:.4f}",
                                              "" if r.genotype is None else json.dumps(r.genotype, separators=(",", ":"))]
            for r in report.rows]
    headers = (["study"] if several else []) + ["trial", "state", "strategy", "val acc"]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(headers)]
    console = Console()
    # the other columns keep their width; the genotype column gets what is left (3 = a cell's border and padding)
    room = max(8, console.width - sum(w + 3 for w in widths) - 4)
    table = Table(title=None if several else f"study {study[0]}")
    for name, width in zip(headers, widths, strict=True):
        table.add_column(name, no_wrap=True, width=width)
    table.add_column("genotype (in full in best.json)", overflow="ellipsis", no_wrap=True, max_width=room)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if report.best is not None:
        typer.echo(f"best: study {report.best.study} trial {report.best.number} accuracy {report.best.value:.4f}")
        typer.echo(f"best genotype written to {report.best_path}; plot: {report.plot_path}")
    _echo_fronts(report)


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
    app.command("search-report")(search_report_cmd)
