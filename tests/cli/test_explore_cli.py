"""cnnlab explore: the page is written; bad input is one error line naming it, exit status 2."""

from __future__ import annotations

import json
import re

import pytest
import torch
from typer.testing import CliRunner

from cnnlab.cli.main import app

runner = CliRunner()

TINY = """
from torch import nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)).mean((2, 3)))
"""


def _data(path) -> dict:
    html = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S).group(1))


def _one_error_line(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return f"{path}:Tiny"


def test_a_class_in_a_file_with_an_image_and_its_checkpoint(tmp_path, tiny):
    from PIL import Image

    image = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(image)
    weights = tmp_path / "tiny.pt"
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_module", tiny.rpartition(":")[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.save(module.Tiny().state_dict(), weights)
    out = tmp_path / "pages" / "tiny.html"
    result = runner.invoke(app, ["explore", tiny, "--input", "1x3x32x32", "--image", str(image),
                                 "--checkpoint", str(weights), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = _data(out)
    assert [r["path"] for r in data["rows"]] == ["conv", "pool", "mean", "fc"]
    conv = data["rows"][0]
    assert conv["params"] == 8 * 27 + 8 and conv["macs"] == 8 * 16 * 16 * 27
    assert [a["r"] for a in conv["rf"]] == [3, 3] and data["image"].startswith("data:image/png;base64,")
    assert "letterboxed to 32x32" in data["image_note"]
    assert set(data["effective"]["by_path"]) == {"conv", "pool"}  # the last child at each resolution: 16x16, 8x8
    assert str(weights) in data["notes"][0]


def test_a_registered_model_at_a_small_input(tmp_path):
    out = tmp_path / "r18.html"
    result = runner.invoke(app, ["explore", "resnet18", "--input", "1x3x64x64", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    data = _data(out)
    assert data["input"] == [1, 3, 64, 64] and data["effective"] is None and data["image"] is None
    assert data["totals"]["params"] == 11_689_512  # torchvision resnet18's count


def test_unknown_model(tmp_path):
    _one_error_line(runner.invoke(app, ["explore", "no_such_net", "--out", str(tmp_path / "a.html")]), "no_such_net")


def test_unreadable_image(tmp_path):
    junk = tmp_path / "photo.png"
    junk.write_text("not a picture")
    result = runner.invoke(app, ["explore", "resnet18", "--image", str(junk), "--out", str(tmp_path / "a.html")])
    _one_error_line(result, "--image", str(junk))
    result = runner.invoke(app, ["explore", "resnet18", "--image", str(tmp_path / "gone.png"),
                                 "--out", str(tmp_path / "a.html")])
    _one_error_line(result, "--image", "gone.png")


def test_checkpoint_of_another_model(tmp_path, tiny):
    weights = tmp_path / "other.pt"
    torch.save({"model": {"conv.weight": torch.zeros(8, 3, 3, 3)}}, weights)
    result = runner.invoke(app, ["explore", "resnet18", "--checkpoint", str(weights), "--out", str(tmp_path / "a.html")])
    _one_error_line(result, "--checkpoint", str(weights), "resnet18")
    result = runner.invoke(app, ["explore", tiny, "--checkpoint", str(weights), "--out", str(tmp_path / "a.html")])
    _one_error_line(result, "--checkpoint", str(weights), "missing")
    result = runner.invoke(app, ["explore", "resnet18", "--checkpoint", str(tmp_path / "none.pt"),
                                 "--out", str(tmp_path / "a.html")])
    _one_error_line(result, "--checkpoint", "does not exist")


def test_bad_out_paths(tmp_path):
    _one_error_line(runner.invoke(app, ["explore", "resnet18", "--out", str(tmp_path)]), "--out", "existing folder")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_error_line(runner.invoke(app, ["explore", "resnet18", "--out", str(blocker / "a.html")]), "--out")


def test_bad_input_shape(tmp_path):
    _one_error_line(runner.invoke(app, ["explore", "resnet18", "--input", "1x3x224", "--out", str(tmp_path / "a.html")]),
                    "--input")
