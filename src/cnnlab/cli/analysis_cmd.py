"""``cnnlab show | table | rf``: look inside a network (a registered name or path/file.py:Class)."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.cli.models import load_model
from cnnlab.errors import ConfigError

__all__ = ["register", "load_model"]

FORMATS = ("rich", "md", "json", "csv")
MODEL_HELP = "registered name (NAME or NAME:key=value,...), path/file.py:Class or package.module:Class"
INPUT_HELP = "input shape NxCxHxW (default 1xCx224x224, C = the model's in_chans)"


def _input_size(model, text: str | None) -> tuple[int, ...]:  # noqa: ANN001 - nn.Module
    from cnnlab.infer import example_input_size, parse_input_size

    return example_input_size(model) if text is None else parse_input_size(text, "--input")


def _explained(model, size: tuple[int, ...], name: str, run):  # noqa: ANN001, ANN202
    """``run()``; when it refuses the input, the clearer reason if the shape has the wrong number of
    dimensions for the model (a 2-D network needs N x C x H x W)."""
    from cnnlab.infer import check_input_for

    try:
        return run()
    except ConfigError:
        check_input_for(model, size, "--input", name)
        raise


def _parse_unit(unit: str | None) -> tuple[int, int] | None:
    if unit is None:
        return None
    parts = unit.split(",")
    if len(parts) != 2 or not all(p.strip().isdecimal() for p in parts):  # isdigit() also passes '²'
        raise ConfigError(f"--unit must be two non-negative integers i,j, got {unit!r}")
    return int(parts[0]), int(parts[1])


@reports_config_errors
def show(name: str = typer.Argument(..., help=MODEL_HELP),
         input: str = typer.Option(None, "--input", help=INPUT_HELP),
         depth: int = typer.Option(None, "--depth", help="tree depth (rich format)"),
         format: str = typer.Option("rich", "--format", help="rich | md | json | csv")) -> None:
    """Print the net → stage → block → unit tree with shapes, params, MACs and receptive fields."""
    from cnnlab.analysis import inspect

    if format not in FORMATS:
        raise ConfigError(f"--format must be rich, md, json or csv, got {format!r}")
    if depth is not None and depth < 0:
        raise ConfigError(f"--depth must be ≥ 0, got {depth}")
    model = load_model(name)
    size = _input_size(model, input)
    report = _explained(model, size, name, lambda: inspect(model, size, name=name))
    if format == "json":
        typer.echo(report.to_json())
    elif format == "csv":
        typer.echo(report.to_csv(), nl=False)
    elif format == "md":
        typer.echo(report.to_markdown(), nl=False)
    else:
        from rich.console import Console
        from rich.markup import escape

        console = Console()
        console.print(report.tree(depth))
        for key, value in report.summary_lines():
            console.print(f"[bold]{escape(str(key))}[/bold]: {escape(str(value))}", highlight=False)
        for warning in report.warnings:
            console.print(f"[yellow]warning[/yellow]: {escape(str(warning))}", highlight=False)


@reports_config_errors
def table(name: str = typer.Argument(..., help=MODEL_HELP),
          input: str = typer.Option(None, "--input", help=INPUT_HELP)) -> None:
    """Print the paper-style stage table (ResNet paper Table 1 column) of a network."""
    from cnnlab.analysis import stage_table

    model = load_model(name)
    size = _input_size(model, input)
    typer.echo(_explained(model, size, name, lambda: stage_table(model, size)), nl=False)


@reports_config_errors
def rf(name: str = typer.Argument(..., help=MODEL_HELP),
       input: str = typer.Option(None, "--input", help=INPUT_HELP),
       image: Path = typer.Option(None, "--image", help="image to draw the receptive field on (letterboxed: "
                                                         "its aspect is kept, grey bars fill the rest)"),
       out: Path = typer.Option(None, "--out", help="PNG to write (with --image)"),
       unit: str = typer.Option(None, "--unit", help="output unit i,j of the last spatial map (default: centre)")) -> None:
    """Receptive field per stage; with --image/--out, draw one unit's field on the image."""
    from cnnlab.analysis import inspect
    from cnnlab.analysis.render.rf_plot import draw_receptive_field, stage_fields
    from cnnlab.cli.out_files import check_output_file, writing_file

    if (image is None) != (out is None):
        raise ConfigError("--image and --out go together")
    cell = _parse_unit(unit)
    if out is not None:
        out = check_output_file(out, "--out")
    model = load_model(name)
    size = _input_size(model, input)
    report = _explained(model, size, name, lambda: inspect(model, size, name=name))
    for path, shape, r, jump in stage_fields(report):
        typer.echo(f"{path:<24} {shape:<14} r={r} j={jump}")
    if image is not None:
        with writing_file(out, "--out"):
            box = draw_receptive_field(report, image, out, cell)
        typer.echo(f"unit {box['unit']}: box rows {box['rows']} cols {box['cols']} -> {out} ({box['fit']})")


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("table")(table)
    app.command("rf")(rf)
