"""One error path for every command: a ConfigError or a value click refuses is one ``error:`` line, exit 2."""

from __future__ import annotations

import importlib.metadata

import pytest
from typer.testing import CliRunner

from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.cli.main import app

runner = CliRunner()


def _commands(typer_app, prefix=()):
    """(command path, callback) of every command of the app and its groups."""
    for info in typer_app.registered_commands:
        yield (*prefix, info.name or info.callback.__name__), info.callback
    for group in typer_app.registered_groups:
        yield from _commands(group.typer_instance, (*prefix, group.name))


def test_every_command_reports_config_errors_through_the_decorator():
    wrapper_code = reports_config_errors(lambda: None).__code__  # functools.wraps copies names, not code
    found = dict(_commands(app))
    assert {("train",), ("compare",), ("export",), ("show",), ("table",), ("rf",), ("list",), ("demo",),
            ("search",), ("search-report",), ("arith", "conv")} <= set(found)
    undecorated = [" ".join(path) for path, callback in found.items()
                   if callback.__code__ is not wrapper_code or not hasattr(callback, "__wrapped__")]
    assert undecorated == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["train", "resnet18", "--epochs", "abc"], "--epochs"),
        (["compare", "resnet18", "--threads", "1.5"], "--threads"),
        (["train", "resnet18", "--no-such-option"], "--no-such-option"),
        (["arith", "conv"], "--n"),
        (["show"], "'name'"),
        (["no-such-command"], "no-such-command"),
        (["search", "--seed", "nan"], "--seed"),
    ],
)
def test_values_click_refuses_are_one_error_line_not_a_usage_box(args, named):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], result.stderr
    assert "--help" in lines[0] and "╭" not in result.output and "Traceback" not in result.output


def test_no_arguments_shows_the_help():
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "train" in result.output and "error:" not in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cnnlab {importlib.metadata.version('cnnlab')}"
