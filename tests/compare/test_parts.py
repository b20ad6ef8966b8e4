"""The pieces of a comparison: structure read from a forward pass, diagrams, latency, table cells."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from cnnlab.compare.diagram import block_label, render_diagram
from cnnlab.compare.latency import measure_latency, measure_peak_forward_bytes
from cnnlab.compare.report import markdown_table_to_html
from cnnlab.compare.structure import describe_structure
from cnnlab.compare.table import format_cell
from cnnlab.errors import ConfigError
from cnnlab.timing import pinned_threads

tv_models = pytest.importorskip("torchvision.models")


def _resnet18_groups():
    model = tv_models.resnet18(num_classes=10)
    return model, describe_structure(model, (1, 3, 64, 64))


def test_structure_shapes_match_torch():
    model, groups = _resnet18_groups()
    by_name = {g.name: g for g in groups}
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        layer1 = model.layer1(stem)
        layer2 = model.layer2(layer1)
    assert by_name["conv1 … maxpool"].out_shape == tuple(stem.shape[1:])  # leaf children grouped
    assert by_name["layer1"].out_shape == tuple(layer1.shape[1:])
    assert [b.kind for b in by_name["layer2"].blocks] == ["BasicBlock", "BasicBlock"]
    assert by_name["layer2"].blocks[0].stride == 2 and by_name["layer2"].blocks[1].stride == 1
    assert by_name["layer2"].out_shape == tuple(layer2.shape[1:])
    assert sum(g.params for g in groups) == sum(p.numel() for p in model.parameters())
    assert not model._forward_hooks and all(not m._forward_hooks for m in model.modules())


def test_structure_uses_stages_when_present(tiny_specs):
    model = tiny_specs[0].build(10, 1)
    groups = describe_structure(model, (1, 1, 16, 16))
    assert [(g.name, g.role) for g in groups] == [("stem", "stem"), ("stages.0", "stage"), ("stages.1", "stage"),
                                                  ("head", "head")]  # fmt: skip
    assert groups[2].out_shape == (16, 8, 8)
    assert "16→16" not in block_label(groups[2].blocks[0]) and "8→16 /2" in block_label(groups[2].blocks[0])


def test_builtin_svg_lists_every_block():
    _, groups = _resnet18_groups()
    diagram = render_diagram(groups, "resnet18", "t", use_dot=False)
    assert diagram.renderer == "built-in SVG" and diagram.svg.startswith("<svg")
    assert diagram.svg.count("BasicBlock") == 8


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot is not installed")
def test_graphviz_svg_is_inline_ready():
    _, groups = _resnet18_groups()
    diagram = render_diagram(groups, "resnet18", "pre", use_dot=True)
    assert diagram.renderer == "graphviz dot"
    assert diagram.svg.startswith("<svg") and "<?xml" not in diagram.svg and "DOCTYPE" not in diagram.svg
    assert 'id="pre-graph0"' in diagram.svg and diagram.svg.count("BasicBlock") == 8


def test_latency_restores_threads_and_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5))
    model.train()
    before = torch.get_num_threads()
    result = measure_latency(model, (2, 3, 16, 16), warmup=1, repeats=3, threads=1)
    assert result.median_ms > 0 and result.min_ms <= result.median_ms and result.repeats == 3
    assert torch.get_num_threads() == before and model.training
    with pytest.raises(ConfigError, match="threads"):
        with pinned_threads(0):
            pass


def test_measured_peak_of_a_chain():
    """Conv output (1x8x32x32 fp32 = 32 KiB) and the next op's output are alive together: >= 2 x 32 KiB."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    peak = measure_peak_forward_bytes(model, (1, 3, 32, 32))
    one = 8 * 32 * 32 * 4
    assert 2 * one <= peak <= 4 * one


def test_markdown_table_to_html_and_cells():
    html = markdown_table_to_html("| a | b |\n|---|---:|\n| 1 | <x> |\n")
    assert html.count("<tr>") == 2 and "&lt;x&gt;" in html
    assert markdown_table_to_html("not a table") is None
    assert format_cell("macs", 1_814_000_000) == "1.81G"
    assert format_cell("measured_peak_bytes", 3 * 1024 * 1024) == "3.0 MiB"
    assert format_cell("imagenet_top1", None) == "—"


def test_model_argument_carries_builder_kwargs():
    from cnnlab.compare.specs import parse_model_arg, spec_from_registry

    assert parse_model_arg("nasnet:genotype=runs/x/best.json,C=8,N=1") == (
        "nasnet", {"genotype": "runs/x/best.json", "C": 8, "N": 1}, "nasnet-best-C8-N1"
    )
    spec = spec_from_registry("mobilenet_v2:width_multiplier=0.5")
    built = spec.build(10, 3)
    # torchvision's MobileNetV2(width_mult=0.5) is the outside reference for what the kwarg must do
    reference = tv_models.mobilenet_v2(width_mult=0.5, num_classes=10)
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in reference.parameters())
    with pytest.raises(ConfigError, match="widht"):
        spec_from_registry("mobilenet_v2:widht=0.5")
    with pytest.raises(ConfigError, match="key=value"):
        spec_from_registry("mobilenet_v2:0.5")


def test_family_colour_does_not_depend_on_the_other_families():
    from cnnlab import nets
    from cnnlab.compare.chart import family_colours, registry_families

    families = registry_families()
    assert families == sorted({nets.model_info(n)["family"] for n in nets.list_models()})
    alone = family_colours(["resnet"])["resnet"]
    assert family_colours(["vgg", "resnet", "mobilenet_v2"])["resnet"] == alone
    assert family_colours(["resnet", "zzz_custom"])["resnet"] == alone
    together = family_colours(families)
    assert len(set(together.values())) == min(len(families), 10)  # tab10: distinct up to ten families
