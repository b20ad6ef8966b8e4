"""``cnnlab list [PATTERN]``: the model registry as a table."""

from __future__ import annotations

import typer

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.errors import ConfigError


@reports_config_errors
def list_command(
    pattern: str = typer.Argument("*", help="fnmatch pattern, e.g. 'resnet*'"),
    format: str = typer.Option("rich", "--format", help="rich (terminal table) or md (markdown)"),
) -> None:
    """List registered models: name, family, parameters, paper."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from cnnlab.nets.zoo import zoo_rows, zoo_table_markdown

    if format not in ("rich", "md"):
        raise ConfigError(f"--format must be 'rich' or 'md', got {format!r}")
    if format == "md":
        typer.echo(zoo_table_markdown(pattern), nl=False)
        return
    rows = zoo_rows(pattern)

    table = Table(title=f"cnnlab models matching {escape(repr(pattern))}" if pattern != "*" else "cnnlab models")
    for column, justify in (("name", "left"), ("family", "left"), ("params", "right"), ("paper", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row["name"], row["family"], f"{row['params']:,}", row["paper"])
    Console().print(table)
    if not rows:
        typer.echo(f"no model matches {pattern!r}", err=True)


def register(app: typer.Typer) -> None:
    app.command("list")(list_command)
