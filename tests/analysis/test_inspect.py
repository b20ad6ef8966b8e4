"""inspect(): leaves the model alone, costs nothing on huge inputs, fails clearly, renders."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
import torch
from torch import nn

import cnnlab
from cnnlab import ConfigError
from cnnlab.analysis import inspect, stage_rows

torchvision = pytest.importorskip("torchvision")


def test_model_is_not_modified():
    model = torchvision.models.resnet18()
    model.layer1.register_forward_hook(lambda m, i, o: None)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks_before = {n: (dict(m._forward_hooks), dict(m._forward_pre_hooks)) for n, m in model.named_modules()}
    training = model.training
    inspect(model, (1, 3, 64, 64))
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert {n: (dict(m._forward_hooks), dict(m._forward_pre_hooks)) for n, m in model.named_modules()} == hooks_before
    assert model.training == training and next(model.parameters()).device.type == "cpu"


def test_huge_input_costs_nothing():
    with torch.device("meta"):
        model = torchvision.models.resnet50()
    start = time.perf_counter()
    big = inspect(model, (8, 3, 2048, 2048))
    assert time.perf_counter() - start < 10
    small = inspect(model, (1, 3, 224, 224))
    # conv MACs scale with batch x pixels: 8 x (2048/224)^2 only approximately (padding), so compare with torch
    assert big.rows[0].output_shape == (8, 64, 1024, 1024)
    assert big.activation_bytes > 100 * small.activation_bytes


def test_peak_activation_is_between_largest_tensor_and_total():
    model = torchvision.models.resnet18()
    r = inspect(model, (1, 3, 64, 64))
    largest = max(4 * torch.Size(row.output_shape).numel() for row in r.rows if row.output_shape)
    assert largest <= r.peak_activation_bytes <= r.activation_bytes + 4 * 3 * 64 * 64


def test_input_too_small_names_the_layer():
    with pytest.raises(ConfigError, match=r"layer .*(input shape|shape)"):
        with torch.device("meta"):
            model = torchvision.models.vgg16()
        inspect(model, (1, 3, 16, 16))


def test_wrong_channel_count_names_layer_expected_and_got():
    with pytest.raises(ConfigError, match=r"'conv1' \(Conv2d\) expects 3 input channels, got 1"):
        inspect(torchvision.models.resnet18(), (1, 1, 64, 64))


def test_bad_input_size_argument():
    with pytest.raises(ConfigError):
        inspect(nn.Conv2d(1, 1, 3), (1, 0, 8, 8))
    with pytest.raises(ConfigError):
        inspect("resnet18", (1, 3, 8, 8))


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.conv(x)
        if y.shape[-1] > 4 and x.sum() > -1e9:  # data-dependent: fx cannot trace, meta cannot decide
            y = y.mean((2, 3))
        return self.fc(y)


def test_untraceable_model_falls_back_to_hooks():
    model = DataDependent()
    r = inspect(model, (1, 3, 8, 8))
    assert r.traced_with == "hooks"
    assert r.macs == 4 * 6 * 6 * 27 + 2 * 4
    assert any("hooks" in w for w in r.warnings)


def test_untraceable_without_fallback_is_a_config_error():
    class Broken(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            raise RuntimeError("no path")

    with pytest.raises(ConfigError, match="cannot inspect Broken"):
        inspect(Broken(), (1, 3, 8, 8))


def test_renderings_round_trip():
    r = inspect(torchvision.models.resnet18(), (1, 3, 64, 64))
    d = json.loads(r.to_json())
    assert d["macs"] == r.macs and d["params"] == r.params and len(d["rows"]) == len(r.rows)
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert len(rows) == len(r.rows) and sum(int(x["macs"]) for x in rows) == r.macs
    assert r.to_markdown().count("\n|") >= len(r.rows)
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)
    console.print(r.tree(depth=2))
    assert "layer1" in console.file.getvalue()


def test_stage_table_of_resnet50_matches_paper_table_1():
    # ResNet paper (He et al. 2016) Table 1, 50-layer column: output sizes and bracketed blocks x repeats
    paper = [("56x56", ["1x1, 64", "3x3, 64", "1x1, 256"], 3), ("28x28", ["1x1, 128", "3x3, 128", "1x1, 512"], 4),
             ("14x14", ["1x1, 256", "3x3, 256", "1x1, 1024"], 6), ("7x7", ["1x1, 512", "3x3, 512", "1x1, 2048"], 3)]
    for model in (torchvision.models.resnet50(), cnnlab.create_model("resnet50")):
        rows = [r for r in stage_rows(model) if r.repeats > 1]
        assert [(r.output_size, [s.split(", stride")[0] for s in r.spec], r.repeats) for r in rows] == paper
        r = inspect(model)
        assert sum(row.macs for row in stage_rows(model, report=r)) == r.macs


class BranchedUntraceable(nn.Module):
    """A residual pair of convs with data-dependent control flow: only the hooks path can see it."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 5, padding=2, dilation=1)

    def forward(self, x):
        y = self.a(x) + self.b(x)
        if x.shape[0] > 0 and x.numel() > 0 and bool(torch.jit.is_scripting() is False):
            y = y * 2
        return y if len(list(y.shape)) == 4 and y.sum() > -1e30 else y


def test_hooks_path_counts_functional_ops_and_carries_fields():
    model = BranchedUntraceable()
    r = inspect(model, (1, 2, 16, 16))
    assert r.traced_with == "hooks"
    assert r.macs == 2 * 16 * 16 * 2 * (9 + 25)
    assert r.ops_by_kind["add"] == 2 * 16 * 16  # the residual add, seen between the units
    assert r.receptive_field.size == (5, 5)
