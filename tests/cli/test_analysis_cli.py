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
    assert result.exit_code == 2 and "has 1 channel(s), but resnet18 takes 3 input channel(s)" in result.output
    result = runner.invoke(app, ["show", f"{tmp_path}/missing.py:Net"])
    assert result.exit_code == 2 and "does not exist" in result.output


def _one_error_line(result, *named: str) -> str:
    """The single ``error:`` line of a refused command (exit 2, nothing else on stderr, no traceback)."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    for text in named:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("from torch import nn\nclass Net(nn.Module)\n    pass\n", ("bad.py", "SyntaxError", "line 2")),
        ("import no_such_module_here\n", ("bad.py", "ModuleNotFoundError", "no_such_module_here")),
        ("from torch import nn\nclass Net(nn.Module):\n    def __init__(self, width):\n        super().__init__()\n",
         ("Net", "no arguments", "width")),
        ("Net = 3\n", ("int", "not a class")),
        ("class Net:\n    pass\n", ("Net", "not a torch nn.Module")),
    ],
    ids=["syntax-error", "failing-import", "constructor-needs-arguments", "not-callable", "not-a-module"],
)
def test_a_model_file_that_cannot_build_is_one_error_line(tmp_path, source, named):
    path = tmp_path / "bad.py"
    path.write_text(source)
    for command in ("show", "table", "rf"):
        _one_error_line(runner.invoke(app, [command, f"{path}:Net"]), *named)


def test_a_shape_with_too_few_numbers_says_what_a_2d_network_needs():
    line = _one_error_line(runner.invoke(app, ["show", "resnet18", "--input", "1x3x224"]), "N x C x H x W")
    assert "4 numbers" in line and "channels" not in line
    pytest.importorskip("torchvision")  # a network cnnlab did not write: the same message
    _one_error_line(runner.invoke(app, ["rf", "torchvision.models:resnet18", "--input", "1x3x64"]), "4 numbers")


def test_an_input_torch_cannot_address_is_refused():
    # 1 * 3 * 1e9 * 1e9 float32 elements is 1.2e19 bytes, past torch's signed 64-bit storage size
    _one_error_line(runner.invoke(app, ["show", "resnet18", "--input", "1x3x1000000000x1000000000"]), "2**63")


def test_a_registered_spec_with_builder_arguments():
    torchvision = pytest.importorskip("torchvision")
    result = runner.invoke(app, ["show", "resnet18:num_classes=7", "--input", "1x3x32x32", "--format", "json"])
    assert result.exit_code == 0, result.output
    expected = sum(p.numel() for p in torchvision.models.resnet18(num_classes=7).parameters())
    assert json.loads(result.output)["params"] == expected
    _one_error_line(runner.invoke(app, ["table", "resnet18:no_such_arg=1"]), "no_such_arg")


def test_rf_image_errors_and_output_paths(tmp_path):
    from PIL import Image

    picture = tmp_path / "photo.png"
    Image.new("RGB", (64, 48)).save(picture)
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not an image")
    blocker = tmp_path / "file"
    blocker.write_text("")
    base = ["rf", "resnet18", "--input", "1x3x64x64"]
    _one_error_line(runner.invoke(app, [*base, "--image", str(not_an_image), "--out", str(tmp_path / "a.png")]),
                    "cannot be read as an image")
    _one_error_line(runner.invoke(app, [*base, "--image", str(picture), "--out", str(tmp_path)]), "existing folder")
    _one_error_line(runner.invoke(app, [*base, "--image", str(picture), "--out", str(blocker / "a.png")]),
                    "is an existing file")
    _one_error_line(runner.invoke(app, [*base, "--image", str(picture), "--out", str(tmp_path / "a.png"),
                                        "--unit", "1"]), "--unit")
    assert not (tmp_path / "a.png").exists()


def test_rf_keeps_the_photo_aspect_and_says_so(tmp_path):
    from PIL import Image

    from cnnlab.analysis.render.rf_plot import letterbox

    photo = Image.new("RGB", (640, 480), (200, 30, 30))
    boxed, how = letterbox(photo, 224, 224)
    # 640x480 scaled by 224/640 is 224x168: (224 - 168) / 2 = 28 grey rows above and below
    pixels = boxed.load()
    assert boxed.size == (224, 224) and pixels[112, 27] == (128, 128, 128) and pixels[112, 28] == (200, 30, 30)
    assert pixels[112, 195] == (200, 30, 30) and pixels[112, 196] == (128, 128, 128)
    assert "640x480 letterboxed to 224x224" in how and "top and bottom" in how
    path = tmp_path / "photo.jpg"
    photo.save(path)
    result = runner.invoke(app, ["rf", "resnet18", "--image", str(path), "--out", str(tmp_path / "rf.png")])
    assert result.exit_code == 0, result.output
    assert "letterboxed to 224x224" in result.output and (tmp_path / "rf.png").stat().st_size > 1000


def test_the_readme_tree_prints_as_a_tree(capsys):
    import cnnlab

    report = cnnlab.inspect(cnnlab.create_model("resnet18"), input_size=(1, 3, 224, 224))
    print(report.tree())  # as the README shows it
    printed = capsys.readouterr().out
    assert "rich.tree.Tree object" not in printed
    assert "stages" in printed and "stem" in printed
