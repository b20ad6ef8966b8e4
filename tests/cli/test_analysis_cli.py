"""cnnlab show / table / rf."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnnlab.cli.main import app

runner = CliRunner()

MODEL_FILE = """
from torch import nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))
"""


def test_show_json_of_a_class_in_a_file(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(MODEL_FILE)
    result = runner.invoke(app, ["show", f"{path}:Tiny", "--input", "1x3x32x32", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["macs"] == 8 * 16 * 16 * 27 + 16 and data["receptive_field"]["size"] == [3, 3]


def test_show_rich_and_csv_of_a_torchvision_class():
    pytest.importorskip("torchvision")
    result = runner.invoke(app, ["show", "torchvision.models:resnet18", "--depth", "1", "--input", "1x3x64x64"])
    assert result.exit_code == 0, result.output
    assert "layer4" in result.output and "receptive field" in result.output
    csv_out = runner.invoke(app, ["show", "torchvision.models:resnet18", "--format", "csv", "--input", "1x3x64x64"])
    assert csv_out.output.startswith("path,type,kind")


def test_table_and_rf_with_image(tmp_path):
    from matplotlib import cbook

    result = runner.invoke(app, ["table", "resnet50"])
    assert result.exit_code == 0, result.output
    assert "× 6" in result.output and "14x14" in result.output
    image = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    out = tmp_path / "rf.png"
    result = runner.invoke(app, ["rf", "resnet18", "--image", str(image), "--out", str(out), "--unit", "0,0"])
    assert result.exit_code == 0, result.output
    assert "r=435x435" in result.output and out.stat().st_size > 1000


def test_bad_inputs_exit_with_a_message(tmp_path):
    result = runner.invoke(app, ["show", "resnet18", "--input", "1x1x224x224"])
    assert result.exit_code == 2 and "expects 3 input channels, got 1" in result.output
    result = runner.invoke(app, ["show", f"{tmp_path}/missing.py:Net"])
    assert result.exit_code == 2 and "does not exist" in result.output
