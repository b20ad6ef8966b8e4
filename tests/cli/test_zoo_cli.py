"""``cnnlab list``: the registry as a table (rich or markdown)."""

from __future__ import annotations

import torchvision
import typer
from typer.testing import CliRunner

from cnnlab.cli import zoo_cmd


def make_app() -> typer.Typer:
    app = typer.Typer()
    zoo_cmd.register(app)

    @app.callback()
    def _root() -> None:  # keep "list" a sub-command
        pass

    return app


def test_list_markdown_shows_params_and_papers() -> None:
    result = CliRunner().invoke(make_app(), ["list", "resnet[13][84]", "--format", "md"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in lines] == ["resnet18", "resnet34"]
    # parameter counts as torchvision's (torchvision 0.29 docs: 11,689,512 and 21,797,672)
    n18 = sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert f"{n18:,}" in lines[0] and "21,797,672" in lines[1]
    assert "He et al. 2016" in lines[0]


def test_list_rich_table_and_no_match() -> None:
    runner = CliRunner()
    result = runner.invoke(make_app(), ["list", "mobilenet*"])
    assert result.exit_code == 0, result.output
    assert "mobilenet_v1" in result.output and "mobilenet_v2" in result.output
    assert "3,504,872" in result.output  # torchvision's mobilenet_v2 count
    none = runner.invoke(make_app(), ["list", "no_such_net*"])
    assert none.exit_code == 0 and "no model matches" in none.output


def test_list_rejects_unknown_format() -> None:
    result = CliRunner().invoke(make_app(), ["list", "--format", "html"])
    assert result.exit_code != 0
