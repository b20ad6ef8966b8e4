"""``cnnlab show | table | rf``: look inside a network (a registered name or path/file.py:Class)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import typer

from cnnlab.cli.config_errors import exit_on_config_error
from cnnlab.errors import ConfigError

__all__ = ["register", "load_model"]


def load_model(spec: str):  # noqa: ANN201 - nn.Module
    """A registered model name, ``path/to/file.py:ClassName`` or ``package.module:ClassName``."""
    import torch

    if ":" not in spec:
        import cnnlab

        with torch.device("meta"):
            return cnnlab.create_model(spec)
    source, _, class_name = spec.rpartition(":")
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"model file {source!r} (from {spec!r}) does not exist")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(source)
        except ImportError as exc:
            raise ConfigError(f"cannot import module {source!r} (from {spec!r}): {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"{source!r} has no class {class_name!r} (from {spec!r})")
    with torch.device("meta"):
        return cls()


def show(name: str = typer.Argument(..., help="registered name, path/file.py:Class or package.module:Class"),
         input: str = typer.Option("1x3x224x224", "--input", help="input shape NxCxHxW"),
         depth: int = typer.Option(None, "--depth", help="tree depth (rich format)"),
         format: str = typer.Option("rich", "--format", help="rich | md | json | csv")) -> None:
    """Print the net → stage → block → unit tree with shapes, params, MACs and receptive fields."""
    from cnnlab.analysis import inspect

    try:
        if format not in ("rich", "md", "json", "csv"):
            raise ConfigError(f"--format must be rich, md, json or csv, got {format!r}")
        report = inspect(load_model(name), input, name=name)
    except ConfigError as exc:
        exit_on_config_error(exc)
    if format == "json":
        typer.echo(report.to_json())
    elif format == "csv":
        typer.echo(report.to_csv(), nl=False)
    elif format == "md":
        typer.echo(report.to_markdown(), nl=False)
    else:
        from rich.console import Console

        console = Console()
        console.print(report.tree(depth))
        for key, value in report.summary_lines():
            console.print(f"[bold]{key}[/bold]: {value}", highlight=False)
        for warning in report.warnings:
            console.print(f"[yellow]warning[/yellow]: {warning}", highlight=False)


def table(name: str = typer.Argument(..., help="registered name or path/file.py:Class"),
          input: str = typer.Option(None, "--input",
                                    help="input shape NxCxHxW (default 1xCx224x224, C = the model's in_chans)")) -> None:
    """Print the paper-style stage table (ResNet paper Table 1 column) of a network."""
    from cnnlab.analysis import stage_table

    try:
        typer.echo(stage_table(load_model(name), input), nl=False)
    except ConfigError as exc:
        exit_on_config_error(exc)


def rf(name: str = typer.Argument(..., help="registered name or path/file.py:Class"),
       input: str = typer.Option("1x3x224x224", "--input", help="input shape NxCxHxW"),
       image: Path = typer.Option(None, "--image", help="image to draw the receptive field on"),
       out: Path = typer.Option(None, "--out", help="PNG to write (with --image)"),
       unit: str = typer.Option(None, "--unit", help="output unit i,j of the last spatial map (default: centre)")) -> None:
    """Receptive field per stage; with --image/--out, draw one unit's field on the image."""
    from cnnlab.analysis import inspect
    from cnnlab.analysis.render.rf_plot import draw_receptive_field, stage_fields

    try:
        report = inspect(load_model(name), input, name=name)
        for path, shape, size, jump in stage_fields(report):
            typer.echo(f"{path:<24} {shape:<14} r={size} j={jump}")
        if image is not None or out is not None:
            if image is None or out is None:
                raise ConfigError("--image and --out go together")
            cell = tuple(int(v) for v in unit.split(",")) if unit else None
            box = draw_receptive_field(report, image, out, cell)
            typer.echo(f"unit {box['unit']}: box rows {box['rows']} cols {box['cols']} -> {out}")
    except ConfigError as exc:
        exit_on_config_error(exc)
    except ValueError:
        exit_on_config_error(ConfigError(f"--unit must look like i,j, got {unit!r}"))


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("table")(table)
    app.command("rf")(rf)
