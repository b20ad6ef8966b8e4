"""cnnlab profile: the table, --out (md, json, csv), --plot (png, svg), --unit; bad input as one error line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnnlab.analysis.profile import Machine
from cnnlab.cli.main import app

runner = CliRunner()

MODEL_FILE = """
from torch import nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))
"""
FAST = ["--input", "1x3x16x16", "--repeats", "2", "--warmup", "0", "--threads", "1"]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """The model file, and a fixed machine instead of measuring one (the measurement is tested elsewhere)."""
    monkeypatch.setattr("cnnlab.analysis.profile.api.measure_machine",
                        lambda threads=None: Machine(50e9, 10e9, threads or 1, "fixed for the test"))
    path = tmp_path / "tiny.py"
    path.write_text(MODEL_FILE)
    return f"{path}:Tiny"


def test_profile_writes_json_md_csv_and_a_roofline(tiny, tmp_path):
    result = runner.invoke(app, ["profile", tiny, *FAST, "--level", "unit", "--unit", "conv",
                                 "--out", str(tmp_path / "p.json"), "--plot", str(tmp_path / "r.png")])
    assert result.exit_code == 0, result.output
    assert "conv (Conv2d, conv): 13,824 MACs" in " ".join(result.output.split())
    data = json.loads((tmp_path / "p.json").read_text())
    # conv bytes: input 1x3x16x16 + output 1x8x8x8 + weight 8x3x3x3 + bias 8, float32
    assert [u["path"] for u in data["units"]] == ["conv", "bn", "mean", "fc"]
    assert data["units"][0]["bytes"] == 4 * (768 + 512 + 216 + 8)
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    for suffix, marker in [(".md", "## By stage"), (".csv", "level,path,type")]:
        out = tmp_path / f"p{suffix}"
        result = runner.invoke(app, ["profile", tiny, *FAST, "--out", str(out), "--plot", str(tmp_path / "r.svg")])
        assert result.exit_code == 0, result.output
        assert marker in out.read_text()
    assert b"<svg" in (tmp_path / "r.svg").read_bytes()[:1000]


def _error(args: list[str]) -> str:
    result = runner.invoke(app, ["profile", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_bad_input_is_one_error_line(tiny, tmp_path):
    (tmp_path / "a_file").write_text("")
    cases = [
        (["no_such_net", *FAST], "no_such_net"),
        ([tiny, "--input", "1x3xbig"], "--input"),
        ([tiny, "--input", "1x5x16x16", "--threads", "1"], "expects 3 input channels, got 5"),
        ([tiny, *FAST, "--unit", "layer9.conv"], "'layer9.conv'"),
        ([tiny, *FAST, "--plot", str(tmp_path / "r.jpg")], "--plot"),
        ([tiny, *FAST, "--plot", str(tmp_path / "a_file" / "r.png")], "a_file"),
        ([tiny, *FAST, "--plot", str(tmp_path)], "--plot"),
        ([tiny, *FAST, "--out", str(tmp_path / "p.txt")], "--out"),
        ([tiny, *FAST, "--level", "layer"], "--level"),
        ([tiny, *FAST, "--method", "hooks"], "method"),
        ([tiny, "--input", "1x3x16x16", "--repeats", "0"], "repeats"),
        ([tiny, "--input", "1x3x16x16", "--threads", "999"], "threads"),
    ]
    for args, needle in cases:
        assert needle in _error(args), args


def test_backward_profiles_forward_and_backward(tiny):
    result = runner.invoke(app, ["profile", tiny, *FAST, "--backward"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "float32, forward + backward" in text and "units timed isolated" in text
