"""How every command reports bad input: one red ``error:`` line on stderr, exit status 2, no traceback.

Two kinds of bad input reach the user through here: a :class:`cnnlab.ConfigError` raised by the layers
below (every command is decorated with :func:`reports_config_errors`), and a value click itself refuses
(an option that is not a number, a missing argument, an unknown option), which :class:`OneLineErrorGroup`
prints as the same single line instead of click's usage box.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from cnnlab.errors import ConfigError

__all__ = ["EXIT_CONFIG_ERROR", "OneLineErrorGroup", "exit_on_config_error", "print_error",
           "reports_config_errors"]

EXIT_CONFIG_ERROR = 2


def _click_exceptions() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(usage errors, aborts) of the installed typer: its own vendored click (typer ≥ 0.20) or click's."""
    usage: list[type[BaseException]] = []
    aborts: list[type[BaseException]] = [typer.Abort]
    if hasattr(typer, "TyperException"):
        usage.append(typer.TyperException)
    try:
        import click
    except ImportError:  # pragma: no cover - typer without click
        pass
    else:
        usage.append(click.ClickException)
        aborts.append(click.exceptions.Abort)
    return tuple(usage), tuple(aborts)


_USAGE_ERRORS, _ABORTS = _click_exceptions()


def print_error(message: str) -> None:
    """``error: <message>`` on stderr as one line (the message's lines joined by "; ")."""
    one_line = "; ".join(" ".join(line.split()) for line in str(message).splitlines() if line.strip())
    Console(stderr=True).print(f"[bold red]error:[/] {escape(one_line)}", soft_wrap=True, highlight=False)


def exit_on_config_error(exc: ConfigError) -> NoReturn:
    """Print ``error: <message>`` on stderr and end the command with :data:`EXIT_CONFIG_ERROR`."""
    print_error(str(exc))
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


class OneLineErrorGroup(TyperGroup):
    """The ``cnnlab`` group: click's usage errors (``--epochs abc``, a missing argument, an unknown option)
    as one ``error:`` line naming the command's ``--help``, exit status 2, like a ConfigError."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _USAGE_ERRORS as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `cnnlab` or `cnnlab arith` alone: the help
                exc.show()
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
            print_error(f"{exc.format_message().rstrip('.')}{hint}")
            sys.exit(exc.exit_code)
        except _ABORTS:
            Console(stderr=True).print("Aborted.")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
