"""``run_compare(..., train=False)``: files, columns, and values checked against independent counts."""

from __future__ import annotations

import csv
import re

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.compare import COLUMNS, CompareConfig, run_compare

tv_models = pytest.importorskip("torchvision.models")


def _rows(result) -> dict[str, dict[str, str]]:
    with open(result.files["comparison.csv"], newline="", encoding="utf-8") as handle:
        return {row["model"]: row for row in csv.DictReader(handle)}


def _flop_counter_macs(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """torch's own count: FlopCounterMode counts 2 FLOPs per multiply-accumulate of conv/linear."""
    counter = FlopCounterMode(display=False)
    model.eval()
    with counter, torch.no_grad():
        model(torch.zeros(*shape))
    return counter.get_total_flops() // 2


def test_all_files_written(no_train_result):
    for name in ("comparison.csv", "comparison.md", "comparison.png", "comparison.svg", "report.html"):
        path = no_train_result.files[name]
        assert path.is_file() and path.stat().st_size > 0, name
    assert no_train_result.files["comparison.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in no_train_result.files["comparison.svg"].read_text(encoding="utf-8")
    assert not list(no_train_result.out.glob(".*.tmp"))  # atomic writes leave no temp files


def test_csv_has_every_column_and_model(no_train_result):
    with open(no_train_result.files["comparison.csv"], newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == COLUMNS
        names = [row["model"] for row in reader]
    assert names == ["tiny_staged", "tiny_plain", "resnet18"]


def test_params_and_macs_agree_with_independent_counts(no_train_result, tiny_specs):
    from cnnlab.compare.specs import spec_from_registry

    rows = _rows(no_train_result)
    for spec in [*tiny_specs, spec_from_registry("resnet18")]:
        model = spec.build(10, 1)  # digits: 10 classes, 1 channel
        row = rows[spec.name]
        assert row["input_shape"] == "1x16x16"
        assert int(row["params"]) == sum(p.numel() for p in model.parameters()), spec.name
        assert int(row["macs"]) == _flop_counter_macs(model, (1, 1, 16, 16)), spec.name


def test_measured_columns_are_positive(no_train_result):
    for name, row in _rows(no_train_result).items():
        assert float(row["latency_b1_ms"]) > 0 and float(row["latency_b32_ms"]) > 0, name
        assert int(row["measured_peak_bytes"]) > 0 and int(row["peak_activation_bytes"]) > 0, name
        assert int(row["threads"]) == 1
        assert row["test_top1"] == "" and row["epochs"] == ""  # not trained


def test_measured_peak_covers_largest_activation(no_train_result, tiny_specs):
    """At least the biggest single output tensor (float32, batch 1) must be alive at the peak."""
    rows = _rows(no_train_result)
    model = tiny_specs[1].build(10, 1)
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(o.numel() * 4)) for m in model]
    with torch.no_grad():
        model(torch.zeros(1, 1, 16, 16))
    for hook in hooks:
        hook.remove()
    assert int(rows["tiny_plain"]["measured_peak_bytes"]) >= max(sizes)


def test_published_columns_from_torchvision_meta(no_train_result):
    rows = _rows(no_train_result)
    meta = tv_models.ResNet18_Weights.IMAGENET1K_V1.meta
    assert float(rows["resnet18"]["imagenet_top1"]) == pytest.approx(meta["_metrics"]["ImageNet-1K"]["acc@1"])
    assert int(rows["resnet18"]["imagenet_params"]) == meta["num_params"]
    assert "ResNet18_Weights" in rows["resnet18"]["imagenet_source"]
    assert rows["tiny_plain"]["imagenet_top1"] == ""  # nothing published


def test_markdown_table_lists_every_model(no_train_result):
    text = no_train_result.files["comparison.md"].read_text(encoding="utf-8")
    header = text.splitlines()[0]
    for column in ("params", "MACs", "RF (px)", "CPU ms b1", "CPU ms b32", "ImageNet top-1 %", "source"):
        assert column in header
    assert "test top-1 %" not in header  # no training columns without training
    for name in ("tiny_staged", "tiny_plain", "resnet18"):
        assert f"| {name} |" in text


def test_report_is_self_contained(no_train_result):
    page = no_train_result.files["report.html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "data:image/svg+xml;base64," in page
    for banned in ("<script", "<link", 'src="http', "href=\"http", "url(http", "@import"):
        assert banned not in page, banned  # nothing is fetched when the page opens
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(src.startswith("data:") for src in sources)
    for name in ("tiny_staged", "tiny_plain", "resnet18"):
        assert f'id="model-{name}"' in page
    assert page.count("<h4>Stage table</h4>") == 3
    assert page.count('<div class="diagram"><svg') == 3


def test_diagrams_without_graphviz(tmp_path, tiny_specs, quick_latency):
    config = CompareConfig(out=tmp_path, data="digits", image_size=8, train=False, latency=quick_latency,
                           use_dot=False, progress=False)  # fmt: skip
    result = run_compare(tiny_specs[:1], config)
    assert result.diagram_renderer == "built-in SVG"
    page = result.files["report.html"].read_text(encoding="utf-8")
    assert "Diagram drawn with built-in SVG" in page
    assert "stages.1" in page  # the second stage is drawn with its blocks


@pytest.mark.parametrize("size", [0, 4097, 100_000])
def test_bad_image_size_is_a_config_error(tmp_path, quick_latency, size):
    from cnnlab.errors import ConfigError

    with pytest.raises(ConfigError, match="image_size must be between 1 and 4096"):
        CompareConfig(out=tmp_path, data="digits", image_size=size, train=False, latency=quick_latency)


def test_each_model_links_to_its_explorer_page(no_train_result):
    page = no_train_result.files["report.html"].read_text(encoding="utf-8")
    links = re.findall(r'<a href="(explore/[^"]+\.html)">explore this network</a>', page)
    assert sorted(links) == sorted(f"explore/{name}.html" for name in ("tiny_staged", "tiny_plain", "resnet18"))
    folder = no_train_result.files["report.html"].parent
    for link in links:
        explorer = (folder / link).read_text(encoding="utf-8")
        assert explorer.lower().startswith("<!doctype html>")
        # offline: the only URLs are SVG's namespace name, which is never fetched
        assert set(re.findall(r"https?://[^\"' )]*", explorer)) <= {"http://www.w3.org/2000/svg"}
