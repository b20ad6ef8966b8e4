"""How every command reports a ConfigError: one red line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from cnnlab.errors import ConfigError

__all__ = ["EXIT_CONFIG_ERROR", "exit_on_config_error", "reports_config_errors"]

EXIT_CONFIG_ERROR = 2


def exit_on_config_error(exc: ConfigError) -> NoReturn:
    """Print ``error: <message>`` on stderr and end the command with :data:`EXIT_CONFIG_ERROR`."""
    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(EXIT_CONFIG_ERROR) from None


def reports_config_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Decorate a command so that a ConfigError it raises goes through :func:`exit_on_config_error`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ConfigError as exc:
            exit_on_config_error(exc)

    return wrapper
