"""Entry point of the ``cnnlab`` command.

Each command group lives in its own module of this package and exposes ``register(app)``; this file
only wires them together, so adding a command never touches another command's file.
"""

from __future__ import annotations

import importlib

import typer

from cnnlab.cli.config_errors import OneLineErrorGroup

app = typer.Typer(
    cls=OneLineErrorGroup,
    name="cnnlab",
    help="Take any CNN apart, understand every number in it, rebuild it, compare it, search for a better one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _print_version(value: bool) -> None:
    if value:
        from cnnlab import __version__

        typer.echo(f"cnnlab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print cnnlab's version and exit.")) -> None:
    """Take any CNN apart, understand every number in it, rebuild it, compare it, search for a better one."""


# Modules of cnnlab.cli that add commands, in the order they appear in --help.
COMMAND_MODULES = (
    "arith_cmd",  # cnnlab arith conv|rf|cost
    "zoo_cmd",  # cnnlab list
    "analysis_cmd",  # cnnlab show|table|rf
    "profile_cmd",  # cnnlab profile
    "explore_cmd",  # cnnlab explore
    "train_cmd",  # cnnlab train
    "compare_cmd",  # cnnlab compare
    "nas_cmd",  # cnnlab search|search-report
    "proxies_cmd",  # cnnlab proxies
    "infer_cmd",  # cnnlab export
    "demo_cmd",  # cnnlab demo
)

for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"cnnlab.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command group not written yet
        if exc.name != f"cnnlab.cli.{_name}":
            raise
        continue
    _module.register(app)


def main() -> None:  # pragma: no cover - console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
