"""ONNX export: onnxruntime (a runtime nobody here wrote) agrees with eager PyTorch at batch 1 and 3."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import ConfigError
from cnnlab.infer import export_onnx, verify_onnx

ort = pytest.importorskip("onnxruntime")


def _run_ort(path, x: torch.Tensor):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


class _SmallNet(nn.Module):
    """Stem, a residual depthwise block, pooling and a classifier: each op kind of the zoo, few nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.BatchNorm2d(8), nn.ReLU6())
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 7))

    def forward(self, x):
        y = self.stem(x)
        return self.head(y + self.block(y))


# the slow dynamo exporter on a small net; the TorchScript exporter on a whole torchvision network
@pytest.mark.parametrize(
    ("exporter", "make_model"),
    [("dynamo", _SmallNet), ("torchscript", lambda: torchvision.models.resnet18(num_classes=7))],
    ids=["dynamo-small", "torchscript-resnet18"],
)
def test_dynamic_batch_export_matches_eager(tmp_path, exporter, make_model, bn_tools):
    model = bn_tools.randomise(make_model()).train()
    path = tmp_path / "sub" / "net.onnx"
    result = export_onnx(model, path, (1, 3, 48, 48), exporter=exporter)
    assert result.exporter == exporter and path.is_file() and result.file_bytes == path.stat().st_size
    assert model.training  # the mode it came in with
    assert [p.name for p in path.parent.iterdir()] == ["net.onnx"]  # no temporary file left
    model.eval()
    for batch in (1, 3):  # onnxruntime directly, then through verify_onnx
        x = torch.randn(batch, 3, 48, 48)
        with torch.no_grad():
            bn_tools.assert_close(_run_ort(path, x), model(x))
    check = verify_onnx(path, model, [torch.randn(1, 3, 48, 48), torch.randn(3, 3, 48, 48)])
    assert check.ok(1e-4) and check.batch_sizes == [1, 3]


def test_static_batch_rejects_another_batch(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten())
    path = tmp_path / "static.onnx"
    export_onnx(model, path, (2, 3, 8, 8), dynamic_batch=False, exporter="torchscript")
    assert verify_onnx(path, model, torch.randn(2, 3, 8, 8)).ok()
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _run_ort(path, torch.randn(3, 3, 8, 8))


def test_verify_reports_a_wrong_model(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    path = tmp_path / "m.onnx"
    export_onnx(model, path, (1, 3, 8, 8), exporter="torchscript")
    with torch.no_grad():
        model[0].bias.add_(1.0)
    assert not verify_onnx(path, model, torch.randn(1, 3, 8, 8)).ok()


@pytest.mark.parametrize("size", [(3,), "1x3x8x8", (1, 3, 0, 8), (1, 3, 8.0, 8)])
def test_bad_input_size_raises_config_error(tmp_path, size):
    with pytest.raises(ConfigError, match="input_size"):
        export_onnx(nn.Conv2d(3, 3, 1), tmp_path / "x.onnx", size)


def test_missing_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no ONNX file"):
        verify_onnx(tmp_path / "absent.onnx", nn.Identity(), torch.randn(1, 3))


def _file_opset(path) -> int:
    import onnx

    return next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))


def test_opset_range_is_the_installed_exporters():
    from torch.onnx import _constants

    from cnnlab.infer import opset_range

    assert opset_range("torchscript") == (_constants.ONNX_MIN_OPSET, _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)
    assert opset_range("dynamo")[1] == _constants.ONNX_MAX_OPSET
    assert opset_range() == (_constants.ONNX_MIN_OPSET, _constants.ONNX_MAX_OPSET)


# below the dynamo exporter's first opset (18) it used to keep 18 and report the opset asked for
@pytest.mark.parametrize(("opset", "exporter"), [(11, "torchscript"), (17, "torchscript"), (20, "dynamo")])
def test_the_file_holds_the_opset_asked_for(tmp_path, opset, exporter):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
    result = export_onnx(model, tmp_path / "m.onnx", (1, 3, 8, 8), opset=opset)
    assert result.exporter == exporter and result.opset == opset == _file_opset(tmp_path / "m.onnx")
    assert verify_onnx(result.path, model, torch.randn(2, 3, 8, 8)).ok()


@pytest.mark.parametrize("opset", [1, 6, 24, 999, 18.0, "18"])
def test_an_opset_no_exporter_writes_is_a_config_error(tmp_path, opset):
    with pytest.raises(ConfigError, match="opset"):
        export_onnx(nn.Conv2d(3, 3, 1), tmp_path / "x.onnx", (1, 3, 4, 4), opset=opset)
    assert not (tmp_path / "x.onnx").exists()


def test_explicit_exporter_outside_its_range(tmp_path):
    with pytest.raises(ConfigError, match="dynamo exporter writes opsets 18"):
        export_onnx(nn.Conv2d(3, 3, 1), tmp_path / "x.onnx", (1, 3, 4, 4), opset=17, exporter="dynamo")


def test_a_folder_is_refused_before_exporting(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        export_onnx(nn.Conv2d(3, 3, 1), tmp_path, (1, 3, 4, 4))


def test_a_model_no_exporter_can_capture_is_a_config_error(tmp_path):
    class Unexportable(nn.Module):
        def forward(self, x):
            return torch.linalg.svd(x.flatten(2)).S  # no ONNX operator for an SVD

    with pytest.raises(ConfigError, match="could not be exported at opset 17.*linalg_svd"):
        export_onnx(Unexportable(), tmp_path / "x.onnx", (1, 3, 4, 4), opset=17)
    assert not (tmp_path / "x.onnx").exists()
