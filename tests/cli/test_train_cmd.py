"""``cnnlab train NAME:key=value``: builder arguments reach the network, and the run folder is named by the spec."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from cnnlab.cli.main import app
from cnnlab.cli.train_cmd import default_run_folder

runner = CliRunner()
BUDGET = ["--data", "digits", "--epochs", "1", "--limit-train", "32", "--limit-val", "16", "--limit-test", "16",
          "--batch-size", "16", "--no-progress"]


def test_default_run_folder_is_named_by_the_spec_label():
    assert str(default_run_folder("nasnet:genotype=runs/best.json,C=8", "digits")) == "runs/nasnet-best-C8-digits"
    assert str(default_run_folder("resnet18", "/data/images/")) == "runs/resnet18-images"


def test_train_takes_builder_arguments(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "resnet18:stem_width=32", *BUDGET, "--out", str(run)])
    assert result.exit_code == 0, result.output
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    # stem_width=32: the stem conv has 32 filters (64 in ResNet-18, He et al. 2016 Table 1), over digits' 1 channel
    stem = next(v for k, v in state["model"].items() if k.startswith("stem") and v.dim() == 4)
    assert stem.shape[:2] == (32, 1) and state["model_name"] == "resnet18"
    bad = runner.invoke(app, ["train", "resnet18:stem_width=abc,no_such=1", *BUDGET, "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "no_such" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_export_rebuilds_a_trained_spec(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "resnet18:stem_width=32", *BUDGET, "--out", str(run)]).exit_code == 0
    assert torch.load(run / "checkpoint.pt", weights_only=True)["model_spec"] == "resnet18:stem_width=32"
    result = runner.invoke(app, ["export", str(run), "--onnx", str(tmp_path / "m.onnx"), "--opset", "17"])
    assert result.exit_code == 0, result.output
    # the exported graph has the trained stem: 32 filters over 1 grey channel (the default resnet18 has 64)
    import onnx

    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    stems = [tuple(t.dims) for t in graph.initializer if len(t.dims) == 4 and t.dims[1] == 1]
    assert stems and stems[0][:2] == (32, 1), stems
