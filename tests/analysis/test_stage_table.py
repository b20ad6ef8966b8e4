"""Stage tables against the papers' own tables: every row derived from a built network (names, sizes,
operators, repeats, channels, strides) equals the published row; where cnnlab's build differs from the
paper, the test names the difference and applies it to the paper's row."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnlab
from cnnlab.analysis import inspect, stage_rows, stage_table
from cnnlab.errors import ConfigError


def built(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):  # shapes and costs only: no memory, no initialisation
        return cnnlab.create_model(name, **kwargs)


def rows_of(name: str, size: int = 224, **kwargs: object):
    model = built(name, **kwargs)
    return stage_rows(model, (1, model.in_chans, size, size))


def header(model: nn.Module) -> list[str]:
    return [c.strip() for c in stage_table(model).splitlines()[0].strip("|").split("|")]


def no_stride(lines: list[str]) -> list[str]:
    return [line.split(", stride")[0] for line in lines]


# --- ResNet / ResNeXt ----------------------------------------------------------------------------------

# He et al. 2016, Table 1: layer name and output size; the bracket of each stage; blocks per stage; FLOPs
# (multiply-adds) per column.
RESNET_SIZES = [("conv1", "112x112"), ("conv2_x", "56x56"), ("conv3_x", "28x28"), ("conv4_x", "14x14"),
                ("conv5_x", "7x7"), ("classifier", "1x1")]
RESNET_BRACKETS = {
    "basic": [["3x3, 64", "3x3, 64"], ["3x3, 128", "3x3, 128"], ["3x3, 256", "3x3, 256"],
              ["3x3, 512", "3x3, 512"]],
    "bottleneck": [["1x1, 64", "3x3, 64", "1x1, 256"], ["1x1, 128", "3x3, 128", "1x1, 512"],
                   ["1x1, 256", "3x3, 256", "1x1, 1024"], ["1x1, 512", "3x3, 512", "1x1, 2048"]],
}
RESNET_COLUMNS = {18: ("basic", (2, 2, 2, 2), 1.8e9), 34: ("basic", (3, 4, 6, 3), 3.6e9),
                  50: ("bottleneck", (3, 4, 6, 3), 3.8e9), 101: ("bottleneck", (3, 4, 23, 3), 7.6e9),
                  152: ("bottleneck", (3, 8, 36, 3), 11.3e9)}


@pytest.mark.parametrize("depth", sorted(RESNET_COLUMNS))
def test_resnet_matches_table_1(depth):
    block, repeats, flops = RESNET_COLUMNS[depth]
    # the paper puts the downsampling stride on the first 1x1 of conv3_1, conv4_1, conv5_1: cnnlab's
    # "_v1" models (the plain names of the bottleneck nets are v1.5, see the next test)
    name = f"resnet{depth}" + ("_v1" if block == "bottleneck" else "")
    model = built(name)
    rows = stage_rows(model)
    assert [(r.name, r.output_size) for r in rows] == RESNET_SIZES
    assert rows[0].spec == ["7x7, 64, stride 2"]
    assert rows[1].lead == ["3x3 max pool, stride 2"]
    assert [no_stride(r.spec) for r in rows[1:5]] == RESNET_BRACKETS[block]
    assert [r.repeats for r in rows[1:5]] == list(repeats)
    # the brackets show where the stride is (the paper says it in the text, Sec. 3.3)
    assert [r.spec[0].endswith("stride 2") for r in rows[1:5]] == [False, True, True, True]
    assert rows[-1].spec == ["global average pool", "1000-d fc"]  # "average pool, 1000-d fc, softmax"
    assert header(model)[2] == f"{depth}-layer"
    total = sum(r.macs for r in rows)
    assert total == pytest.approx(flops, rel=0.03)  # the paper prints FLOPs to one decimal


def test_resnet50_v1_5_moves_the_stride_to_the_3x3_and_resnext_matches_its_table_1():
    rows = rows_of("resnet50")
    assert [r.spec[1] for r in rows[2:5]] == ["3x3, 128, stride 2", "3x3, 256, stride 2", "3x3, 512, stride 2"]
    # Xie et al. 2017, Table 1, ResNeXt-50 (32x4d): brackets (C = 32 on the grouped 3x3), blocks, 4.2e9 FLOPs
    resnext = [["1x1, 128", "3x3, 128, C=32", "1x1, 256"], ["1x1, 256", "3x3, 256, C=32", "1x1, 512"],
               ["1x1, 512", "3x3, 512, C=32", "1x1, 1024"], ["1x1, 1024", "3x3, 1024, C=32", "1x1, 2048"]]
    model = built("resnext50_32x4d")
    rows = stage_rows(model)
    assert [(r.name, r.output_size) for r in rows] == RESNET_SIZES
    assert [no_stride(r.spec) for r in rows[1:5]] == resnext and [r.repeats for r in rows[1:5]] == [3, 4, 6, 3]
    assert header(model)[2] == "ResNeXt-50 (32×4d)"
    assert sum(r.macs for r in rows) == pytest.approx(4.2e9, rel=0.03)


def test_scratchdet_variants_show_their_stems():
    # Zhu et al. 2019, Fig. 4: ResNet-18-A drops the max pool; Root-ResNet-18 has three 3x3 convs and a 2x2 pool
    a = rows_of("resnet18_a")
    assert a[1].lead == [] and [r.output_size for r in a[:2]] == ["112x112", "112x112"]
    root = rows_of("root_resnet18")
    assert root[0].spec == ["3x3, 64", "3x3, 64", "3x3, 64"] and root[1].lead == ["2x2 max pool, stride 2"]


# --- VGG -------------------------------------------------------------------------------------------------

# Simonyan & Zisserman 2015, Table 1, configurations A, B, D, E (top to bottom, soft-max left out below).
_M = "maxpool"
_FC = ["FC-4096", "FC-4096", "FC-1000"]
VGG_TABLE_1 = {
    "A": ["conv3-64", _M, "conv3-128", _M, "conv3-256", "conv3-256", _M, "conv3-512", "conv3-512", _M,
          "conv3-512", "conv3-512", _M, *_FC],
    "B": ["conv3-64", "conv3-64", _M, "conv3-128", "conv3-128", _M, "conv3-256", "conv3-256", _M,
          "conv3-512", "conv3-512", _M, "conv3-512", "conv3-512", _M, *_FC],
    "D": ["conv3-64", "conv3-64", _M, "conv3-128", "conv3-128", _M, "conv3-256", "conv3-256", "conv3-256", _M,
          "conv3-512", "conv3-512", "conv3-512", _M, "conv3-512", "conv3-512", "conv3-512", _M, *_FC],
    "E": ["conv3-64", "conv3-64", _M, "conv3-128", "conv3-128", _M, "conv3-256", "conv3-256", "conv3-256",
          "conv3-256", _M, "conv3-512", "conv3-512", "conv3-512", "conv3-512", _M, "conv3-512", "conv3-512",
          "conv3-512", "conv3-512", _M, *_FC],
}
VGG_NAMES = {"A": ("vgg11", 11), "B": ("vgg13", 13), "D": ("vgg16", 16), "E": ("vgg19", 19)}


@pytest.mark.parametrize("letter", sorted(VGG_TABLE_1))
@pytest.mark.parametrize("bn", [False, True])
def test_vgg_matches_table_1(letter, bn):
    name, layers = VGG_NAMES[letter]
    model = built(name + ("_bn" if bn else ""))
    rows = stage_rows(model)
    # difference: torchvision's head pools adaptively to 7x7 before FC-4096 (an identity at 224x224)
    pool = "adaptive average pool to 7x7"
    expected = VGG_TABLE_1[letter][:-3] + [pool] + _FC
    assert [r.name for r in rows] == expected
    # Sec. 2.1: 224x224 input, 3x3 convs with padding 1, 2x2 max-pooling with stride 2
    assert [r.output_size for r in rows if r.name == _M] == ["112x112", "56x56", "28x28", "14x14", "7x7"]
    assert next(r.output_size for r in rows if r.name == pool) == "7x7"
    assert header(model)[0] == f"ConvNet configuration {letter} ({layers} weight layers)"


def test_an_adaptive_pool_is_global_only_to_1x1():
    with torch.device("meta"):
        vgg, resnet = torchvision.models.vgg16(), torchvision.models.resnet18()
    text = stage_table(vgg)  # any nn.Module: the generic layout
    assert "adaptive average pool to 7x7" in text and "global" not in text
    assert "global average pool" in stage_table(resnet)


# --- GoogLeNet -------------------------------------------------------------------------------------------

# Szegedy et al. 2015, Table 1: type, patch size/stride, output size, depth, #1x1, #3x3 reduce, #3x3,
# #5x5 reduce, #5x5, pool proj, ops (M). The final softmax row is left out (cnnlab's nets return logits).
GOOGLENET_TABLE_1 = [
    ("convolution", "7x7/2", "112x112x64", "1", "", "", "", "", "", "", 34),
    ("max pool", "3x3/2", "56x56x64", "0", "", "", "", "", "", "", 0),
    ("convolution", "3x3/1", "56x56x192", "2", "", "64", "192", "", "", "", 360),
    ("max pool", "3x3/2", "28x28x192", "0", "", "", "", "", "", "", 0),
    ("inception (3a)", "", "28x28x256", "2", "64", "96", "128", "16", "32", "32", 128),
    ("inception (3b)", "", "28x28x480", "2", "128", "128", "192", "32", "96", "64", 304),
    ("max pool", "3x3/2", "14x14x480", "0", "", "", "", "", "", "", 0),
    ("inception (4a)", "", "14x14x512", "2", "192", "96", "208", "16", "48", "64", 73),
    ("inception (4b)", "", "14x14x512", "2", "160", "112", "224", "24", "64", "64", 88),
    ("inception (4c)", "", "14x14x512", "2", "128", "128", "256", "24", "64", "64", 100),
    ("inception (4d)", "", "14x14x528", "2", "112", "144", "288", "32", "64", "64", 119),
    ("inception (4e)", "", "14x14x832", "2", "256", "160", "320", "32", "128", "128", 170),
    ("max pool", "3x3/2", "7x7x832", "0", "", "", "", "", "", "", 0),
    ("inception (5a)", "", "7x7x832", "2", "256", "160", "320", "32", "128", "128", 54),
    ("inception (5b)", "", "7x7x1024", "2", "384", "192", "384", "48", "128", "128", 71),
    ("avg pool", "7x7/1", "1x1x1024", "0", "", "", "", "", "", "", 0),
    ("dropout (40%)", "", "1x1x1024", "0", "", "", "", "", "", "", 0),
    ("linear", "", "1x1x1000", "1", "", "", "", "", "", "", 1),
]
BRANCHES = ("#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj")


def googlenet_rows(name: str) -> list[tuple]:
    return [(r.name, r.cells.get("patch", ""), f"{r.output_size}x{r.output_channels}", r.cells["depth"],
             *(r.cells.get(b, "") for b in BRANCHES)) for r in rows_of(name)]


def paper_googlenet(three_by_three_5x5: bool) -> list[tuple]:
    """Table 1 with cnnlab's named differences applied."""
    rows = []
    for row in GOOGLENET_TABLE_1:
        row = list(row[:-1])
        if row[:3] == ["max pool", "3x3/2", "7x7x832"]:
            row[1] = "2x2/2"  # the pool before 5a is torchvision's 2x2/2 (ceil mode): the same 7x7 output
        if row[0] == "dropout (40%)":
            row[0] = "dropout (20%)"  # drop_rate 0.2 by default, torchvision's
        if three_by_three_5x5 and row[0].startswith("inception"):
            row[8] += " (3x3)"  # torchvision's "5x5" branch is a 3x3 conv (pytorch/vision#906)
        rows.append(tuple(row))
    return rows


def test_googlenet_paper_matches_table_1():
    assert googlenet_rows("googlenet_paper") == paper_googlenet(three_by_three_5x5=False)


def test_googlenet_torchvision_build_says_its_5x5_branch_is_3x3():
    assert googlenet_rows("googlenet") == paper_googlenet(three_by_three_5x5=True)
    assert header(built("googlenet"))[:4] == ["type", "patch size/stride", "output size", "depth"]


def test_googlenet_paper_ops_match_table_1():
    rows = rows_of("googlenet_paper")
    # The paper's conv1 figures (2.7K params, 34M ops) are not a 7x7x3x64 conv's (9.4K, 118M): left out.
    # 5a: 1,042K params x 7x7 = 51M multiply-adds where the paper prints 1072K and 54M, hence 6%.
    for row, paper in zip(rows[2:], GOOGLENET_TABLE_1[2:], strict=True):
        if paper[-1]:
            assert row.macs == pytest.approx(paper[-1] * 1e6, rel=0.06), row.name


# --- MobileNet V1 / V2 ---------------------------------------------------------------------------------

# Howard et al. 2017, Table 1: Type / Stride, Filter Shape, Input Size (the final Softmax row left out).
MOBILENET_V1_TABLE_1 = [
    ("Conv / s2", "3x3x3x32", "224x224x3"),
    ("Conv dw / s1", "3x3x32 dw", "112x112x32"),
    ("Conv / s1", "1x1x32x64", "112x112x32"),
    ("Conv dw / s2", "3x3x64 dw", "112x112x64"),
    ("Conv / s1", "1x1x64x128", "56x56x64"),
    ("Conv dw / s1", "3x3x128 dw", "56x56x128"),
    ("Conv / s1", "1x1x128x128", "56x56x128"),
    ("Conv dw / s2", "3x3x128 dw", "56x56x128"),
    ("Conv / s1", "1x1x128x256", "28x28x128"),
    ("Conv dw / s1", "3x3x256 dw", "28x28x256"),
    ("Conv / s1", "1x1x256x256", "28x28x256"),
    ("Conv dw / s2", "3x3x256 dw", "28x28x256"),
    ("Conv / s1", "1x1x256x512", "14x14x256"),
    ("5× Conv dw / s1\nConv / s1", "3x3x512 dw\n1x1x512x512", "14x14x512"),
    ("Conv dw / s2", "3x3x512 dw", "14x14x512"),
    ("Conv / s1", "1x1x512x1024", "7x7x512"),
    ("Conv dw / s2", "3x3x1024 dw", "7x7x1024"),
    ("Conv / s1", "1x1x1024x1024", "7x7x1024"),
    ("Avg Pool / s1", "Pool 7x7", "7x7x1024"),
    ("FC / s1", "1024x1000", "1x1x1024"),
]
# Table 6 (width multiplier α at 224): million multiply-adds.
MOBILENET_V1_TABLE_6 = {"mobilenet_v1": 569, "mobilenet_v1_075": 325, "mobilenet_v1_050": 149,
                        "mobilenet_v1_025": 41}


def test_mobilenet_v1_matches_table_1():
    rows = rows_of("mobilenet_v1")
    derived = [(r.name, r.cells["filter"], f"{r.input_size}x{r.input_channels}") for r in rows]
    paper = list(MOBILENET_V1_TABLE_1)
    # difference: the paper's second-to-last depthwise conv reads "s2", yet its next row's input is still
    # 7x7x1024; every implementation (TF-slim, timm, cnnlab) uses stride 1 there
    paper[16] = ("Conv dw / s1", "3x3x1024 dw", "7x7x1024")
    assert derived == paper
    assert rows[13].repeats == 5 and rows[13].spec == ["3x3, 512, dw", "1x1, 512"]


@pytest.mark.parametrize("name", sorted(MOBILENET_V1_TABLE_6))
def test_mobilenet_v1_width_multipliers_match_table_6(name):
    assert sum(r.macs for r in rows_of(name)) == pytest.approx(MOBILENET_V1_TABLE_6[name] * 1e6, rel=0.01)


# Sandler et al. 2018, Table 2: input, operator, t, c, n, s (k: the number of classes).
MOBILENET_V2_TABLE_2 = [
    ("224x224x3", "conv2d", "-", "32", "1", "2"),
    ("112x112x32", "bottleneck", "1", "16", "1", "1"),
    ("112x112x16", "bottleneck", "6", "24", "2", "2"),
    ("56x56x24", "bottleneck", "6", "32", "3", "2"),
    ("28x28x32", "bottleneck", "6", "64", "4", "2"),
    ("14x14x64", "bottleneck", "6", "96", "3", "1"),
    ("14x14x96", "bottleneck", "6", "160", "3", "2"),
    ("7x7x160", "bottleneck", "6", "320", "1", "1"),
    ("7x7x320", "conv2d 1x1", "-", "1280", "1", "1"),
    ("7x7x1280", "avgpool 7x7", "-", "-", "1", "-"),
    ("1x1x1280", "conv2d 1x1", "-", "k", "-", ""),
]


def test_mobilenet_v2_matches_table_2():
    model = built("mobilenet_v2")
    rows = stage_rows(model)
    derived = [(f"{r.input_size}x{r.input_channels}", r.name, *(r.cells[k] for k in "tcns")) for r in rows]
    paper = list(MOBILENET_V2_TABLE_2)
    # difference: the classifier is an fc (the same map as the paper's 1x1 conv on the pooled 1x1x1280), k = 1000
    paper[-1] = ("1x1x1280", "fc", "-", "1000", "-", "-")
    assert derived == paper
    assert header(model)[:6] == ["input", "operator", "t", "c", "n", "s"]
    assert cnnlab.stage_table("mobilenet_v2").startswith("| input | operator | t | c | n | s |")
    assert sum(r.macs for r in rows) == pytest.approx(300e6, rel=0.01)  # Table 3: 300M multiply-adds


def test_mobilenet_v2_blocks_keep_their_projection():
    # every bottleneck's units: [1x1 expansion to t·c_in,] 3x3 depthwise (stride s), 1x1 projection to c
    rows = rows_of("mobilenet_v2")
    for row, c_in, paper in zip(rows[1:8], [32, 16, 24, 32, 64, 96, 160], MOBILENET_V2_TABLE_2[1:8], strict=True):
        _, _, t, c, n, s = paper
        hidden = c_in * int(t)
        expand = [f"1x1, {hidden}"] if t != "1" else []
        assert row.spec == [*expand, f"3x3, {hidden}, dw" + (", stride 2" if s == "2" else ""), f"1x1, {c}"]
        assert row.repeats == int(n)


# --- ShuffleNet ------------------------------------------------------------------------------------------

# Zhang et al. 2018, Table 1: Layer, Output size, KSize, Stride, Repeat, output channels for g = 3 and g = 8
# (a stage's channels are written once, on its first line); complexity 137 MFLOPs for both.
SHUFFLENET_TABLE_1 = [
    ("Image", "224x224", "", "", "", {3: "3", 8: "3"}),
    ("Conv1", "112x112", "3x3", "2", "1", {3: "24", 8: "24"}),
    ("MaxPool", "56x56", "3x3", "2", "", {3: "", 8: ""}),
    ("Stage2", "28x28", "", "2", "1", {3: "240", 8: "384"}),
    ("", "28x28", "", "1", "3", {3: "", 8: ""}),
    ("Stage3", "14x14", "", "2", "1", {3: "480", 8: "768"}),
    ("", "14x14", "", "1", "7", {3: "", 8: ""}),
    ("Stage4", "7x7", "", "2", "1", {3: "960", 8: "1536"}),
    ("", "7x7", "", "1", "3", {3: "", 8: ""}),
    ("GlobalPool", "1x1", "7x7", "", "", {3: "", 8: ""}),
    ("FC", "", "", "", "", {3: "1000", 8: "1000"}),
]


@pytest.mark.parametrize("g", [3, 8])
def test_shufflenet_matches_table_1(g):
    model = built(f"shufflenet_v1_g{g}")
    rows = stage_rows(model)
    derived = [(r.name, r.output_size, r.cells.get("ksize", ""), r.cells.get("stride", ""),
                r.cells.get("repeat", ""), r.cells.get("channels", "")) for r in rows]
    paper = [(name, size, k, s, n, channels[g]) for name, size, k, s, n, channels in SHUFFLENET_TABLE_1]
    paper[-1] = ("FC", "1x1", *paper[-1][2:])  # the paper leaves the FC's output size blank
    assert derived == paper
    assert header(model)[5] == f"Output channels (g = {g})"
    assert sum(r.macs for r in rows) == pytest.approx(137e6, rel=0.015)


# --- RandWire, NASNet ------------------------------------------------------------------------------------

# Xie et al. 2019, Table 1, small regime: stage, output, operator (C channels, N nodes per random graph);
# Table 2: RandWire-WS small (C = 78, N = 32) has 583M FLOPs.
RANDWIRE_TABLE_1_SMALL = [
    ("conv1", "112x112", "3x3 conv, C/2"),
    ("conv2", "56x56", "3x3 conv, C"),
    ("conv3", "28x28", "random wiring N, C"),
    ("conv4", "14x14", "random wiring N, 2C"),
    ("conv5", "7x7", "random wiring N, 4C"),
    ("classifier", "1x1", "1x1 conv, 1280-d\nglobal average pool"),  # "…, softmax"
]


def randwire_paper(C: int, N: int, head: int = 1280, classes: int = 1000) -> list[tuple[str, str, str]]:
    rows = []
    for stage, size, op in RANDWIRE_TABLE_1_SMALL:
        for symbol, value in (("C/2", C // 2), ("4C", 4 * C), ("2C", 2 * C), ("C", C), ("N", N), ("1280", head)):
            op = op.replace(symbol, str(value))
        rows.append((stage, size, op))
    # difference: the softmax classifier's fc is a row of its own (softmax itself is in the loss)
    rows[-1] = (rows[-1][0], rows[-1][1], rows[-1][2] + f"\n{classes}-d fc")
    return rows


def test_randwire_small_matches_table_1_small_regime():
    rows = rows_of("randwire_small")
    assert [(r.name, r.output_size, r.cells["op"]) for r in rows] == randwire_paper(C=78, N=32)
    assert sum(r.macs for r in rows) == pytest.approx(583e6, rel=0.02)


def test_randwire_tiny_is_the_small_regime_scaled_down():
    # differences (the CPU-size config): C = 8, N = 8, a 64-d head, 10 classes, and stride-1 stem convs, so
    # every output is 4x larger: 224, 224, 112, 56, 28
    rows = rows_of("randwire_tiny")
    paper = randwire_paper(C=8, N=8, head=64, classes=10)
    sizes = ["224x224", "224x224", "112x112", "56x56", "28x28", "1x1"]
    assert [(r.name, r.output_size, r.cells["op"]) for r in rows] == [
        (stage, size, op) for (stage, _, op), size in zip(paper, sizes, strict=True)]


def test_nasnet_follows_figure_2():
    # Zoph et al. 2018, Fig. 2 (CIFAR-10): 3x3 conv, [Normal Cell × N, Reduction Cell] × 2, Normal Cell × N;
    # Sec. 2: filters double whenever a reduction cell halves the size. cnnlab's default: N = 2, C = 16.
    rows = rows_of("nasnet", size=32)
    assert [r.name for r in rows] == ["3x3 conv", "Normal Cell × 2", "Reduction Cell", "Normal Cell × 2",
                                      "Reduction Cell", "Normal Cell × 2", "classifier"]
    assert [r.output_size for r in rows[1:6]] == ["32x32", "16x16", "16x16", "8x8", "8x8"]
    assert [r.cells["filters"] for r in rows[1:6]] == ["16", "32", "32", "64", "64"]
    assert [r.repeats for r in rows[1:6:2]] == [2, 2, 2]


# --- every model, any module, errors ---------------------------------------------------------------------

@pytest.mark.parametrize("name", cnnlab.list_models())
def test_every_registered_model_has_a_paper_layout_and_its_rows_add_up(name):
    model = built(name)
    shape = (1, model.in_chans, 64, 64)
    report = inspect(model, shape)
    rows = stage_rows(model, shape, report=report)
    assert callable(model.paper_table)
    assert sum(r.macs for r in rows) == report.macs and sum(r.params for r in rows) == sum(
        r.params for r in report.rows)


def test_the_generic_layout_keeps_projections_and_repeats_only_alike_blocks():
    # without the family's layout (any module): ResNet Table 1's layout, read from the modules
    v2 = built("mobilenet_v2")
    v2.paper_table = None
    rows = stage_rows(v2)
    assert rows[2].spec == ["1x1, 96", "3x3, 96, dw, stride 2", "1x1, 24"] and rows[2].repeats == 2
    googlenet = built("googlenet")
    googlenet.paper_table = None
    text = stage_table(googlenet)
    assert "stride 2] ×" not in text  # a pool and five inceptions are not "[3x3 max pool, stride 2] × 6"
    with torch.device("meta"):
        tv = stage_rows(torchvision.models.resnet50())
    assert [r.spec for r in tv if r.repeats > 1][0] == ["1x1, 64", "3x3, 64", "1x1, 256"]  # no downsample


class BadLayout(nn.Module):
    def __init__(self, layout: object) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.layout = layout

    def forward(self, x):
        return self.conv(x)

    def paper_table(self):
        if isinstance(self.layout, Exception):
            raise self.layout
        return self.layout


@pytest.mark.parametrize("layout, message", [
    ({"rows": [{"name": "conv", "paths": ["conv9"]}]}, "names module 'conv9'"),
    ({"rows": []}, "non-empty 'rows'"),
    ({"rows": [{"paths": ["conv"]}]}, "'name'"),
    ({"rows": [{"name": "conv", "paths": ["conv"], "repeats": 0}]}, "positive ints"),
    ({"columns": [("op",)], "rows": [{"name": "conv", "paths": ["conv"]}]}, "'columns'"),
    (KeyError("ch1x1"), "paper_table\\(\\) failed"),
    (StopIteration(), "paper_table\\(\\) failed"),
])
def test_a_layout_the_table_cannot_read_is_a_config_error(layout, message):
    with pytest.raises(ConfigError, match=message):
        stage_table(BadLayout(layout), (1, 3, 8, 8))


def test_a_method_layout_renders_with_its_columns():
    model = BadLayout({"source": "a test", "columns": [("op", "name"), ("in", "input size"), ("k", "k")],
                       "channels": True, "rows": [{"name": "conv", "paths": ["conv"], "cells": {"k": 3}}]})
    text = stage_table(model, "1x3x8x8")
    # MACs: 4·6·6 outputs × 27
    assert text.splitlines()[:3] == ["| op | in | k | MACs |", "|---|---|---|---:|", "| conv | 8x8x3 | 3 | 3.9 K |"]
    assert "Layout: a test." in text


def test_the_comparison_report_shows_a_sentence_not_an_exception():
    from cnnlab.compare.measure import stage_table_of
    from cnnlab.compare.report import stage_table_to_html

    model = cnnlab.create_model("randwire_tiny")
    html = stage_table_to_html(stage_table_of(model, (1, 28, 28)))
    assert html.startswith('<table class="data">') and "random wiring 8, 32" in html and "Layout: Xie" in html
    broken = stage_table_to_html(stage_table_of(BadLayout(KeyError("x")), (3, 8, 8)))
    assert broken.startswith('<p class="note">') and "Error" not in broken and "Traceback" not in broken
    assert stage_table_to_html("Traceback (most recent call last):\nTypeError: x") == (
        '<p class="note">No stage table for this model.</p>')
