"""``cnnlab arith``: tables with the right numbers, clean errors, and the tour."""

from __future__ import annotations

import io
import re

import pytest
import torch
import typer
from rich.console import Console
from torch import nn
from typer.testing import CliRunner

from cnnlab.cli.arith_cmd import arith_tour, register

runner = CliRunner()
app = typer.Typer()  # just this group, so other command groups cannot affect these tests
register(app)


def invoke(*args: str):
    return runner.invoke(app, ["arith", *args])


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("conv", "rf", "cost"):
        assert command in result.output


def test_registered_in_the_cnnlab_app():
    from cnnlab.cli.main import app as cnnlab_app

    assert "arith" in runner.invoke(cnnlab_app, ["--help"]).output


@pytest.mark.parametrize(
    ("args", "torch_layer"),
    [
        (["--n", "7", "--k", "3", "--d", "2"], nn.Conv2d(1, 1, 3, dilation=2)),
        (["--n", "5", "--k", "3", "--p", "1", "--s", "2"], nn.Conv2d(1, 1, 3, stride=2, padding=1)),
        (["--n", "6", "--k", "3", "--s", "2", "--ceil", "--pool"], nn.MaxPool2d(3, 2, ceil_mode=True)),
        (["--n", "5", "--k", "3", "--s", "2", "--p", "1", "--transposed", "--output-padding", "1"],
         nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)),
    ],
)
def test_conv_prints_the_size_torch_produces(args, torch_layer):
    n = int(args[1])
    with torch.no_grad():
        expected = torch_layer(torch.zeros(1, 1, n, n)).shape[-1]
    result = invoke("conv", *args)
    assert result.exit_code == 0, result.output
    assert re.search(rf"output size .*│\s+{expected} │", result.output)
    assert "floor" in result.output or "ceil" in result.output or "output_padding" in result.output


def test_rf_prints_the_lecture_table():
    result = invoke("rf", "conv k3 s2 p1, conv k3 s2 p1", "--n", "5")
    assert result.exit_code == 0, result.output
    # lecture: layer 1 n=3 j=2 r=3 start=0.5; layer 2 n=2 j=4 r=7 start=0.5 (columns n, j, r, r_min, start)
    assert re.search(r"conv1 .*│ 3 │ 2 │ 3 │\s+3 │\s+0\.5 │", result.output)
    assert re.search(r"conv2 .*│ 2 │ 4 │ 7 │\s+7 │\s+0\.5 │", result.output)
    assert re.search(r"r_out\s+= r_in \+ \(k_eff - 1\)·j_in", result.output)  # the formula is shown


def test_cost_prints_the_mobilenet_numbers():
    result = invoke("cost", "--dk", "3", "--m", "32", "--n", "64", "--df", "112")
    assert result.exit_code == 0, result.output
    standard = 3 * 3 * 32 * 64 * 112 * 112  # MobileNet v1: Dk·Dk·M·N·Df·Df
    separable = 3 * 3 * 32 * 112 * 112 + 32 * 64 * 112 * 112  # Dk·Dk·M·Df·Df + M·N·Df·Df
    assert f"{standard:,}" in result.output and f"{separable:,}" in result.output
    assert "0.12674" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["conv", "--n", "3", "--k", "3", "--d", "2"], "input size 3"),
        (["conv", "--n", "8", "--k", "0"], "kernel_size"),
        (["conv", "--n", "8", "--k", "3", "--p", "2", "--pool"], "padding=2"),
        (["conv", "--n", "8", "--k", "3", "--s", "2", "--transposed", "--output-padding", "2"], "output_padding=2"),
        (["rf", "conv k3 q2", "--n", "5"], "bad token 'q2'"),
        (["cost", "--dk", "3", "--m", "30", "--n", "64", "--df", "7", "--groups", "4"], "not divisible by groups=4"),
    ],
)
def test_config_errors_are_one_clean_line_with_exit_code_2(args, named):
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0]


def test_tour_prints_the_lecture_examples():
    buffer = io.StringIO()
    arith_tour(Console(file=buffer, width=100, color_system=None))
    text = buffer.getvalue()
    assert re.search(r"conv2 .*│ 2 │ 4 │ 7 │\s+7 │\s+0\.5 │", text)  # 5x5 RF example (n, j, r, r_min, start)
    assert re.search(r"output size .*│\s+3 │", text)  # dilated 7x7 -> 3x3
    assert "0.12674" in text  # MobileNet ratio
    assert "│ 1.50 │ 1.75 │ 2.25 │ 2.50 │" in text  # bilinear row 2, corrected
