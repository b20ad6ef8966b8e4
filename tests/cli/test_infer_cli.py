"""``cnnlab export``: writes an ONNX file that onnxruntime runs like the eager network, at any batch."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

import cnnlab
from cnnlab.cli.main import app

ort = pytest.importorskip("onnxruntime")
runner = CliRunner()


def test_export_from_a_checkpoint_that_names_its_model(tmp_path):
    model = cnnlab.create_model("resnet18", num_classes=10).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # weights a fresh model would not have
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"model_name": "resnet18", "state_dict": model.state_dict()}, checkpoint)
    out = tmp_path / "r18.onnx"
    result = runner.invoke(app, ["export", str(checkpoint), "--onnx", str(out), "--input", "1x3x32x32",
                                 "--num-classes", "10"])
    assert result.exit_code == 0, result.output
    assert "max rel error" in result.output and "batch 1, 3" in result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.randn(4, 3, 32, 32)  # a batch size the export never saw
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resnet18", "--input", "1x3xfoo"], "--input"),
        (["no_such_net"], "unknown model name"),
        (["resnet18", "--checkpoint", "absent.pt"], "does not exist"),
    ],
)
def test_bad_input_is_one_red_line_and_exit_2(tmp_path, args, message):
    result = runner.invoke(app, ["export", *args, "--onnx", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.onnx").exists()


def test_checkpoint_without_a_model_name_is_refused(tmp_path):
    checkpoint = tmp_path / "weights.pt"
    torch.save(cnnlab.create_model("resnet18", num_classes=10).state_dict(), checkpoint)
    result = runner.invoke(app, ["export", str(checkpoint), "--onnx", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and "model name" in result.output
