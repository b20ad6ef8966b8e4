"""``cnnlab rf MODEL --effective``: the effective field per stage next to the theoretical one, and its refusals."""

from __future__ import annotations

import re

import pytest
import torch
from typer.testing import CliRunner

from cnnlab.cli.main import app

pytest.importorskip("sklearn")  # the digits data set
runner = CliRunner()

GREY_MODEL = """
from torch import nn

class Grey(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(self.body(x).mean((2, 3)))
"""
DIGITS = ["--data", "digits", "--images", "4"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def one_error_line(result, *named: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    for text in named:
        assert text in lines[0], lines[0]
    return lines[0]


def test_a_model_file_on_digits(tmp_path):
    path = tmp_path / "grey.py"
    path.write_text(GREY_MODEL)
    out = tmp_path / "erf.png"
    result = runner.invoke(app, ["rf", f"{path}:Grey", "--effective", *DIGITS, "--units", "body.0,body.2",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "weights at initialisation (seed 0), eval mode" in lines[0] and "4 digits test images of 1x8x8" in lines[0]
    # one 3x3 conv: r = 3; two: r = 5 (the digits' 8x8 hold both fields)
    assert re.match(r"body\.0 +8x8 +r=3 j=1x1 +effective: 95% in side \d", lines[1]), lines[1]
    assert re.match(r"body\.2 +8x8 +r=5 j=1x1 +effective: 95% in side \d", lines[2]), lines[2]
    assert int(re.search(r"side (\d+)", lines[1]).group(1)) <= 3  # the gradient stays in the theoretical field
    assert out.stat().st_size > 1000
    again = runner.invoke(app, ["rf", f"{path}:Grey", "--effective", *DIGITS, "--units", "body.0,body.2"])
    assert again.output.splitlines()[:3] == lines[:3]  # seeded: the same initialisation, the same numbers


def test_a_checkpoint_is_loaded_and_another_models_refused(tmp_path):
    from cnnlab import create_model

    torch.manual_seed(0)
    model = create_model("resnet18", in_chans=1, num_classes=10)
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": model.state_dict(), "identity": {"model": "resnet18", "in_chans": 1, "num_classes": 10,
                                                          "image_size": [32, 32]}}, run / "checkpoint.pt")
    result = runner.invoke(app, ["rf", "resnet18", "--effective", *DIGITS, "--checkpoint", str(run)])
    assert result.exit_code == 0, result.output
    assert f"weights of {run}" in result.output and "of 1x32x32" in result.output  # the checkpoint's image size
    assert re.search(r"stages\.3 +1x1 +r=435 j=32x32", result.output), result.output
    other = create_model("mobilenet_v1", in_chans=1, num_classes=10)
    torch.save({"model": other.state_dict(), "identity": {"model": "mobilenet_v1"}}, tmp_path / "other.pt")
    one_error_line(runner.invoke(app, ["rf", "resnet18", "--effective", *DIGITS, "--checkpoint",
                                       str(tmp_path / "other.pt")]),
                   "other.pt does not fit resnet18", "records model 'mobilenet_v1'", "missing")
    wide = create_model("resnet18", in_chans=3, num_classes=10)
    torch.save(wide.state_dict(), tmp_path / "rgb.pt")
    one_error_line(runner.invoke(app, ["rf", "resnet18", "--effective", *DIGITS, "--checkpoint",
                                       str(tmp_path / "rgb.pt")]),
                   "rgb.pt does not fit resnet18", "shape mismatch", "stem.conv1")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--units", "body.7"], ("'body.7'", "not a module")),
        (["--units", "fc"], ("'fc'", "not a 2-D feature map")),
        (["--units", "body.0,,"], ("--units",)),
        (["--images", "0"], ("--images", "got 0")),
        (["--mode", "fast"], ("--mode", "'fast'")),
        (["--seed", "-1"], ("--seed",)),
        (["--data", "no/such/folder"], ("no/such/folder",)),
        (["--checkpoint", "no/such/checkpoint.pt"], ("no/such/checkpoint.pt", "does not exist")),
        (["--image", "photo.png"], ("--image",)),
        (["--input", "1x1x8"], ("--input",)),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, args, named):
    path = tmp_path / "grey.py"
    path.write_text(GREY_MODEL)
    one_error_line(runner.invoke(app, ["rf", f"{path}:Grey", "--effective", *DIGITS, *args]), *named)


def test_a_garbage_checkpoint_and_options_without_effective(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    one_error_line(runner.invoke(app, ["rf", "resnet18", "--effective", *DIGITS, "--checkpoint",
                                       str(tmp_path / "junk.pt")]), "junk.pt")
    one_error_line(runner.invoke(app, ["rf", "resnet18", "--checkpoint", str(tmp_path / "junk.pt")]),
                   "--checkpoint goes with --effective")
    one_error_line(runner.invoke(app, ["rf", "resnet18", "--units", "stem"]), "--units goes with --effective")
    one_error_line(runner.invoke(app, ["rf", "resnet18", "--data", "digits"]), "--data goes with --effective")


def test_a_larger_input_centres_the_images_on_a_black_canvas():
    """The objects keep the scale the network learned (the training transform at the training size), the
    canvas around them is black: (0 - mean) / std after normalisation."""
    from cnnlab.cli.analysis_cmd import _data_images
    from cnnlab.data import get_dataset

    plain = _data_images("digits", None, 3, 1, None, None)
    wide = _data_images("digits", None, 3, 1, None, (14, 12))
    assert plain.shape == (3, 1, 8, 8) and wide.shape == (3, 1, 14, 12)
    assert torch.equal(wide[:, :, 3:11, 2:10], plain)
    stats = get_dataset("digits", None, "test")
    black = (0.0 - stats.mean[0]) / stats.std[0]
    border = torch.ones(14, 12, dtype=torch.bool)
    border[3:11, 2:10] = False
    assert torch.allclose(wide[:, 0][:, border], torch.tensor(black))
