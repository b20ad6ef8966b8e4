"""``cnnlab list``: the registry as a table (rich or markdown); ``cnnlab table``: a model's paper table."""

from __future__ import annotations

import pytest
import torch
import torchvision
import typer
from typer.testing import CliRunner

import cnnlab
from cnnlab.cli import zoo_cmd
from cnnlab.cli.main import app


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


@pytest.mark.parametrize("name", cnnlab.list_models())
def test_table_renders_every_registered_model(name):
    with torch.device("meta"):
        in_chans = cnnlab.create_model(name).in_chans
    result = CliRunner().invoke(app, ["table", name, "--input", f"1x{in_chans}x224x224"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("| ") and lines[0].endswith("| MACs |") and "Layout: " in result.output
    assert next(line for line in lines if line.startswith("| total |")).endswith(" |")


def test_table_reads_like_the_paper():
    # Sandler et al. 2018, Table 2's columns; Szegedy et al. 2015, Table 1's branch widths
    v2 = CliRunner().invoke(app, ["table", "mobilenet_v2"])
    assert v2.exit_code == 0 and v2.output.startswith("| input | operator | t | c | n | s |")
    assert "| 112x112x16 | bottleneck | 6 | 24 | 2 | 2 |" in v2.output
    inception = CliRunner().invoke(app, ["table", "googlenet_paper"])
    assert "| inception (3a) |  | 28x28x256 | 2 | 64 | 96 | 128 | 16 | 32 | 32 |" in inception.output


MODEL_FILE = """
from torch import nn

class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)

    def paper_table(self):
        return {"rows": [{"name": "conv", "paths": ["conv.missing"]}]}
"""


def test_table_of_a_model_it_cannot_read_is_one_error_line(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text(MODEL_FILE)
    for args, message in ((["table", f"{path}:Odd", "--input", "1x3x8x8"], "names module 'conv.missing'"),
                          (["table", "randwire_tiny", "--input", "1x3x224x224"], "takes 1 input channel(s)")):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.output


def test_a_bad_format_is_one_error_line_not_a_usage_box():
    result = CliRunner().invoke(app, ["list", "--format", "xx"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["error: --format must be 'rich' or 'md', got 'xx'"]
