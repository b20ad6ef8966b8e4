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


def _one_error_line(result, *named: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.output, result.output
    for text in named:
        assert text in lines[0], lines[0]
    return lines[0]


def _onnx_opset(path) -> int:
    import onnx

    return next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))


@pytest.mark.parametrize("opset", [1, 6, 24, 999])
def test_an_opset_the_exporter_cannot_write_is_refused_naming_the_range(tmp_path, opset):
    from torch.onnx import _constants  # the installed exporters' own limits

    low, high = _constants.ONNX_MIN_OPSET, _constants.ONNX_MAX_OPSET
    out = tmp_path / "m.onnx"
    _one_error_line(runner.invoke(app, ["export", "mobilenet_v1_025", "--onnx", str(out), "--opset", str(opset)]),
                    f"--opset {opset}", f"opsets {low} to {high}")
    assert not out.exists()


def test_the_opset_asked_for_is_the_opset_written(tmp_path):
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", "mobilenet_v1_025", "--onnx", str(out), "--input", "1x3x32x32",
                                 "--opset", "13"])
    assert result.exit_code == 0, result.output
    assert _onnx_opset(out) == 13 and "opset 13" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["absent.pt"], ("checkpoint file", "does not exist")),
        (["mobilenet_v1_025", "--input", "1x3x224"], ("N x C x H x W", "4 numbers")),
        (["mobilenet_v1_025", "--input", "1x1x32x32"], ("1 channel(s)", "takes 3 input channel(s)")),
        (["mobilenet_v1_025", "--input", "1x3x100000x100000"], ("GiB",)),
        (["mobilenet_v1_025:no_such_arg=3"], ("no_such_arg",)),
    ],
    ids=["missing-checkpoint", "three-numbers", "channels", "too-large", "bad-spec"],
)
def test_misleading_messages_now_name_the_real_problem(tmp_path, args, named):
    line = _one_error_line(runner.invoke(app, ["export", *args, "--onnx", str(tmp_path / "m.onnx")]), *named)
    assert "unknown model name" not in line


def test_onnx_path_that_cannot_be_written_is_refused_before_exporting(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    _one_error_line(runner.invoke(app, ["export", "mobilenet_v1_025", "--onnx", str(tmp_path)]), "existing folder")
    _one_error_line(runner.invoke(app, ["export", "mobilenet_v1_025", "--onnx", str(blocker / "m.onnx")]),
                    "is an existing file")


def test_a_model_trained_on_grey_images_exports_as_trained(tmp_path):
    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "resnet18", "--data", "digits", "--epochs", "1", "--limit-train", "64",
                                  "--limit-val", "16", "--limit-test", "16", "--batch-size", "32", "--no-progress",
                                  "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "grey.onnx"
    result = runner.invoke(app, ["export", str(run / "checkpoint.pt"), "--onnx", str(out), "--opset", "17"])
    assert result.exit_code == 0, result.output
    assert "input 1x1x8x8" in result.output  # digits: 1 channel, 8x8, 10 classes, read from the checkpoint
    model = cnnlab.create_model("resnet18", in_chans=1, num_classes=10,
                                checkpoint=torch.load(run / "checkpoint.pt", weights_only=True)["model"]).eval()
    x = torch.randn(2, 1, 8, 8)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    with torch.no_grad():
        torch.testing.assert_close(got, model(x), rtol=1e-4, atol=1e-5)
    _one_error_line(runner.invoke(app, ["export", str(run), "--onnx", str(out), "--num-classes", "5"]),
                    "--num-classes 5", "10 classes")


def test_builder_arguments_recorded_in_a_checkpoint_rebuild_the_model(tmp_path):
    model = cnnlab.create_model("resnet18", stem_width=32, num_classes=10)  # a conv1 of 32 filters, not 64
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"model_spec": "resnet18:stem_width=32", "identity": {"in_chans": 3, "num_classes": 10,
                                                                     "image_size": [32, 32]},
                "model": model.state_dict()}, checkpoint)
    result = runner.invoke(app, ["export", str(checkpoint), "--onnx", str(tmp_path / "m.onnx"), "--opset", "17"])
    assert result.exit_code == 0, result.output
    assert "resnet18:stem_width=32 for input 1x3x32x32" in result.output and "ok" in result.output
