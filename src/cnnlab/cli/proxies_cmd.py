"""``cnnlab proxies``: zero-cost proxy scores of NAS-Bench-201 cells, written as CSV beside their accuracies."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.cli.config_errors import reports_config_errors

__all__ = ["proxies_cmd", "register"]


@reports_config_errors
def proxies_cmd(
    space: str = typer.Option("nb201", help="search space (nb201: the NAS-Bench-201 cells and their table)"),
    proxy: str = typer.Option("synflow,naswot,params",
                              help="comma-separated: synflow, naswot, jacob_cov, snip, grad_norm, fisher, params, macs"),
    sample: int = typer.Option(100, help="cells drawn at random with --seed (0: all 15,625)"),
    seed: int = typer.Option(0, help="seed of the sample, of each cell's initialisation and of the batch"),
    out: Path = typer.Option(Path("scores.csv"), help="CSV file: index, arch, iso, accuracy, one column per proxy"),
    dataset: str = typer.Option("cifar10", help="cifar10 | cifar100 | imagenet16-120: the network's classes and "
                                                "image size (32, or 16 for ImageNet16-120), and the accuracy column"),
    data: str = typer.Option("fashion-mnist", help="images of the data-dependent proxies (brought to 3 channels)"),
    batch_size: int = typer.Option(64, help="images in the one batch the data-dependent proxies read"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Score sampled NAS-Bench-201 cells with zero-cost proxies (CSV); prints each proxy's Spearman ρ with the
    table's test accuracy over the sample."""
    from rich.progress import Progress

    from cnnlab.nas.proxies.nb201 import check_csv_path, score_space

    check_csv_path(out)
    with Progress(transient=True, disable=not progress) as bar:
        def start(total: int):
            task = bar.add_task("scoring cells", total=total)
            return lambda n: bar.advance(task, n)

        result = score_space(space, proxy, sample=sample, seed=seed, dataset=dataset, data=data,
                             batch_size=batch_size, progress=start)
    path = result.write_csv(out)
    typer.echo(f"{len(result.indices)} cells scored on the {dataset} network; written to {path}")
    for name, rho in result.spearman().items():
        typer.echo(f"  {name:<10} Spearman ρ with {dataset} test accuracy: {rho:+.3f}")


def register(app: typer.Typer) -> None:
    """Add ``proxies`` to the ``cnnlab`` app."""
    app.command("proxies")(proxies_cmd)
