"""``cnnlab profile``: where a network's time goes, unit by unit, against this machine's roofline."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.errors import ConfigError

__all__ = ["register", "load_real_model"]

MODEL_HELP = "registered name (NAME or NAME:key=value,...), path/file.py:Class or package.module:Class"
OUT_FORMATS = (".md", ".json", ".csv")


def load_real_model(spec: str):  # noqa: ANN201 - nn.Module
    """The model ``spec`` names with real weights on the CPU (``cnnlab.cli.models.load_model`` builds on the
    meta device, which cannot run)."""
    from cnnlab.cli.models import _from_source, create_from_spec, is_registry_spec

    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"model must be a registered name or path/file.py:Class, got {spec!r}")
    return create_from_spec(spec) if is_registry_spec(spec) else _from_source(spec)


def _check_out(out: Path | None) -> Path | None:
    from cnnlab.cli.out_files import check_output_file

    if out is None:
        return None
    if Path(out).suffix.lower() not in OUT_FORMATS:
        raise ConfigError(f"--out {str(out)!r} must end in .md, .json or .csv")
    return check_output_file(out, "--out")


def _check_plot(plot: Path | None) -> Path | None:
    from cnnlab.analysis.profile.roofline import check_plot_path
    from cnnlab.cli.out_files import check_output_file

    if plot is None:
        return None
    return check_output_file(check_plot_path(plot, "--plot"), "--plot")


@reports_config_errors
def profile(name: str = typer.Argument(..., help=MODEL_HELP),
            input: str = typer.Option(None, "--input", help="input shape NxCxHxW (default 1xCx224x224)"),
            backward: bool = typer.Option(False, "--backward", help="time forward + backward of each unit"),
            out: Path = typer.Option(None, "--out", help="write the profile: .md, .json or .csv"),
            plot: Path = typer.Option(None, "--plot", help="write the roofline: .png or .svg"),
            level: str = typer.Option("stage", "--level", help="rows of the printed table: stage | block | unit"),
            unit: str = typer.Option(None, "--unit", help="also print the numbers of the unit at this path"),
            repeats: int = typer.Option(20, "--repeats", help="timed repeats (median)"),
            warmup: int = typer.Option(3, "--warmup", help="untimed runs first"),
            threads: int = typer.Option(None, "--threads", help="torch threads (default: torch's count)"),
            method: str = typer.Option("inline", "--method",
                                       help="inline: units timed in place in whole forwards; isolated: each alone")) -> None:
    """Per-unit MACs, bytes moved, arithmetic intensity, latency and share of the roofline's attainable rate."""
    from rich.console import Console
    from rich.markup import escape

    from cnnlab.analysis.profile import profile as run_profile
    from cnnlab.analysis.profile.render import LEVELS, summary_lines
    from cnnlab.infer import check_input_for, example_input_size, parse_input_size
    from cnnlab.timing import require_threads

    if level not in LEVELS:
        raise ConfigError(f"--level must be stage, block or unit, got {level!r}")
    if threads is not None:
        require_threads(threads, "--threads")
    out, plot = _check_out(out), _check_plot(plot)
    model = load_real_model(name)
    size = example_input_size(model) if input is None else parse_input_size(input, "--input")
    try:
        result = run_profile(model, size, backward, repeats=repeats, warmup=warmup, threads=threads,
                             method=method, name=name)
    except ConfigError:
        check_input_for(model, size, "--input", name)
        raise
    picked = result.unit(unit) if unit is not None else []
    console = Console()
    console.print(result.table(level))
    for key, value in summary_lines(result):
        console.print(f"[bold]{escape(key)}[/bold]: {escape(value)}", highlight=False)
    for line in result.where_time_goes():
        console.print(escape(line), highlight=False)
    for u in picked:
        console.print(f"[bold]{escape(u.path)}[/bold] ({escape(u.type)}, {u.plot_kind}): {u.macs:,} MACs, "
                      f"{u.flops:,} FLOPs, {u.bytes:,} bytes, {u.intensity:.2f} FLOP/B, {1e3 * u.latency_s:.3f} ms, "
                      f"{u.achieved_flops / 1e9:.2f} of {u.attainable_flops / 1e9:.2f} GFLOP/s attainable "
                      f"({100 * u.share:.0f}%, {u.bound}-bound)", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note[/yellow]: {escape(note)}", highlight=False)
    if out is not None:
        from cnnlab.atomic import atomic_write_text
        from cnnlab.cli.out_files import writing_file

        suffix = out.suffix.lower()
        text = {".md": result.to_markdown, ".json": result.to_json, ".csv": result.to_csv}[suffix]()
        with writing_file(out, "--out"):
            atomic_write_text(out, text)
        typer.echo(f"profile -> {out}")
    if plot is not None:
        from cnnlab.analysis.profile import draw_roofline

        draw_roofline(result, plot)
        typer.echo(f"roofline -> {plot}")


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
