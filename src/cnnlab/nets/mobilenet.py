"""MobileNet V1 (Howard et al. 2017, Table 1) and V2 (Sandler et al. 2018, Table 2).

Width multiplier α scales every layer's channels; V2 rounds them to a multiple of 8 (``make_divisible``,
as the paper's reference code and torchvision), V1 likewise (equal to α·c for the paper's α values).
Both accept any input resolution (the ρ multiplier is just the input size).
V1 uses ReLU6 and a plain pool → fc head, like timm's ``mobilenetv1_100`` (whose weights load 1:1); pass
``act_layer=nn.ReLU`` for the paper's ReLU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.arith.checks import require_positive, require_range
from cnnlab.blocks._common import ReLU6
from cnnlab.blocks.mobilenet import DepthwiseSeparableBlock, InvertedResidual
from cnnlab.errors import ConfigError
from cnnlab.nets.base import (
    ClassifierHead,
    StageStack,
    ZooNet,
    check_common,
    check_multiplier,
    init_weights,
    make_divisible,
)
from cnnlab.nets.paper_table import convs, fmt, kernel, table_row
from cnnlab.nets.published import PublishedWeights, torchvision_weights
from cnnlab.nets.registry import register_variant
from cnnlab.nets.weights import regex_converter, register_converter
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["MOBILENET_V1_TABLE", "MOBILENET_V2_TABLE", "MOBILENET_WEIGHTS", "MobileNetStage", "build_mobilenet_v1",
           "build_mobilenet_v2", "mobilenet_v1_paper_table", "mobilenet_v2_paper_table"]


@dataclass(frozen=True)
class MobileNetStage:
    """A row of the paper's table: expansion t (1 for V1), output channels c, repeats n, first stride s."""

    t: float
    c: int
    n: int
    s: int


# Howard et al. 2017, Table 1, after the 3x3/2 stem of 32: (t, c, n, s), each row a depthwise-separable run.
MOBILENET_V1_TABLE = [
    MobileNetStage(1, 64, 1, 1),
    MobileNetStage(1, 128, 2, 2),
    MobileNetStage(1, 256, 2, 2),
    MobileNetStage(1, 512, 6, 2),
    MobileNetStage(1, 1024, 2, 2),
]

# Sandler et al. 2018, Table 2: t, c, n, s after the 3x3/2 stem of 32; then 1x1 conv 1280, pool, fc.
MOBILENET_V2_TABLE = [
    MobileNetStage(1, 16, 1, 1),
    MobileNetStage(6, 24, 2, 2),
    MobileNetStage(6, 32, 3, 2),
    MobileNetStage(6, 64, 4, 2),
    MobileNetStage(6, 96, 3, 1),
    MobileNetStage(6, 160, 3, 2),
    MobileNetStage(6, 320, 1, 1),
]


def _check_table(table: Sequence[MobileNetStage], where: str) -> list[MobileNetStage]:
    if not isinstance(table, Sequence) or not table:
        raise ConfigError(f"{where}: stage_table must be a non-empty list of MobileNetStage, got {table!r}")
    for i, row in enumerate(table):
        if not isinstance(row, MobileNetStage):
            raise ConfigError(f"{where}: stage_table rows must be MobileNetStage(t, c, n, s), got {row!r}")
        for name in ("c", "n", "s"):
            require_positive(name, getattr(row, name), f"{where} stage_table[{i}]")
        require_range("expansion t", row.t, 1.0, None, f"{where} stage_table[{i}]")
    return list(table)


def _build(where: str, block: str, stage_table: Sequence[MobileNetStage], width_multiplier: float,
           stem_channels: int, make_head: Callable[[int], ClassifierHead], in_chans: int,
           norm_layer: LayerFactory | None, act_layer: LayerFactory | None) -> ZooNet:
    """3x3/2 conv stem, one stage per table row (``block``: "ds" depthwise-separable, "ir" inverted
    residual), then ``make_head(channels of the last stage)``; torchvision's MobileNet init."""
    width = check_multiplier("width_multiplier", width_multiplier, where)
    table = _check_table(stage_table, where)
    cin = make_divisible(require_positive("stem_channels", stem_channels, where) * width, 8)
    stem = ConvNormAct(in_chans, cin, 3, 2, 1, norm_layer=norm_layer, act_layer=act_layer)
    stages = StageStack(cin, 2)
    for row in table:
        cout = make_divisible(row.c * width, 8)
        if block == "ds":
            def make(j: int, c: int, s: int, cout: int = cout) -> nn.Module:
                return DepthwiseSeparableBlock(c, cout, s, norm_layer=norm_layer, act_layer=act_layer)
        else:
            def make(j: int, c: int, s: int, cout: int = cout, t: float = row.t) -> nn.Module:
                return InvertedResidual(c, cout, s, t, norm_layer=norm_layer, act_layer=act_layer)
        stages.add_repeated(make, cout, row.n, row.s)
    model = ZooNet(stem, stages, make_head(stages.channels), stage_specs=table, in_chans=in_chans)
    init_weights(model)  # = torchvision's MobileNet init (kaiming fan-out convs, BN 1/0, linear N(0, 0.01))
    model.paper_table = mobilenet_v1_paper_table if block == "ds" else mobilenet_v2_paper_table
    return model


def _v1_unit(conv: nn.Conv2d) -> tuple[str, str]:
    """Table 1's "Type / Stride" and "Filter Shape" of one conv: ``Conv dw / s2``, ``3x3x64 dw``."""
    k, s = kernel(conv), conv.stride[0]
    if conv.groups == conv.in_channels > 1:
        return f"Conv dw / s{s}", f"{k}x{conv.out_channels} dw"
    return f"Conv / s{s}", f"{k}x{conv.in_channels}x{conv.out_channels}"


def mobilenet_v1_paper_table(model: ZooNet) -> dict:
    """Table 1 of Howard et al. 2017: a row per conv (type / stride, filter shape, input size); a run of
    blocks after a stage's first is one row, ``5× Conv dw / s1, Conv / s1``, as the paper writes it (a
    single one keeps its two rows); then the average pool and the FC."""
    rows = []

    def add(paths: list[str], unit: nn.Module, times: int = 1) -> None:
        types, shapes = zip(*map(_v1_unit, convs(unit)), strict=True)
        rows.append(table_row((f"{times}× " if times > 1 else "") + "\n".join(types), paths,
                              block=paths[0] if times > 1 else None, repeats=times,
                              cells={"filter": "\n".join(shapes)}))

    add(["stem"], model.stem)
    for i, stage in enumerate(model.stages):
        blocks = list(stage)
        for j in range(2 if len(blocks) == 2 else 1):
            for name, unit in blocks[j].named_children():
                if convs(unit):
                    add([f"stages.{i}.{j}.{name}"], unit)
        if len(blocks) > 2:
            add([f"stages.{i}.{j}" for j in range(1, len(blocks))], blocks[1], times=len(blocks) - 1)
    for name, unit in model.head.named_children():
        if isinstance(unit, nn.AdaptiveAvgPool2d):
            rows.append(table_row("Avg Pool / s1", [f"head.{name}"], cells={"filter": "Pool {input_hw}"}))
        elif isinstance(unit, nn.Linear):
            rows.append(table_row("FC / s1", [f"head.{name}"],
                                  cells={"filter": f"{unit.in_features}x{unit.out_features}"}))
    return {"source": "Howard et al. 2017, MobileNets, Table 1", "rows": rows, "channels": True,
            "columns": [("Type / Stride", "name"), ("Filter Shape", "filter"), ("Input Size", "input size")]}


def mobilenet_v2_paper_table(model: ZooNet) -> dict:
    """Table 2 of Sandler et al. 2018: input, operator, expansion t, output channels c, repeats n, first
    stride s — read from each stage's first block (t = its depthwise width / its input width) — then the
    1x1 conv, the pool and the classifier; a last column lists the units of a block."""
    stem = convs(model.stem)[0]
    rows = [table_row("conv2d", ["stem"], cells={"t": "-", "c": stem.out_channels, "n": 1, "s": stem.stride[0]})]
    for i, stage in enumerate(model.stages):
        units = convs(stage[0])
        dw = next(c for c in units if c.groups == c.in_channels > 1)
        rows.append(table_row("bottleneck", [f"stages.{i}"], block=f"stages.{i}.0", repeats=len(stage), cells={
            "t": fmt(dw.in_channels / units[0].in_channels), "c": units[-1].out_channels, "n": len(stage),
            "s": dw.stride[0]}))
    for name, unit in model.head.named_children():
        path = f"head.{name}"
        if convs(unit):
            conv = convs(unit)[0]
            rows.append(table_row(f"conv2d {kernel(conv)}", [path],
                                  cells={"t": "-", "c": conv.out_channels, "n": 1, "s": conv.stride[0]}))
        elif isinstance(unit, nn.AdaptiveAvgPool2d):
            rows.append(table_row("avgpool {input_hw}", [path], cells={"t": "-", "c": "-", "n": 1, "s": "-"}))
        elif isinstance(unit, nn.Linear):
            rows.append(table_row("fc", [path], cells={"t": "-", "c": unit.out_features, "n": "-", "s": "-"}))
    return {"source": "Sandler et al. 2018, MobileNetV2, Table 2", "rows": rows, "channels": True,
            "columns": [("input", "input size"), ("operator", "name"), ("t", "t"), ("c", "c"), ("n", "n"),
                        ("s", "s"), ("block", "block")]}


def build_mobilenet_v1(
    *,
    width_multiplier: float = 1.0,
    stage_table: Sequence[MobileNetStage] = MOBILENET_V1_TABLE,
    stem_channels: int = 32,
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    norm_layer: LayerFactory | None = nn.BatchNorm2d,
    act_layer: LayerFactory | None = ReLU6,
) -> ZooNet:
    """MobileNet V1: 3x3/2 conv stem, then depthwise-separable blocks per :data:`MOBILENET_V1_TABLE`."""
    where = "build_mobilenet_v1"
    check_common(where, num_classes, in_chans, drop_rate, norm_layer, act_layer)

    def head(channels: int) -> ClassifierHead:
        return ClassifierHead(channels, num_classes, drop_rate)

    return _build(where, "ds", stage_table, width_multiplier, stem_channels, head, in_chans, norm_layer, act_layer)


def build_mobilenet_v2(
    *,
    width_multiplier: float = 1.0,
    stage_table: Sequence[MobileNetStage] = MOBILENET_V2_TABLE,
    stem_channels: int = 32,
    last_channels: int = 1280,
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.2,
    norm_layer: LayerFactory | None = nn.BatchNorm2d,
    act_layer: LayerFactory | None = ReLU6,
) -> ZooNet:
    """MobileNet V2: stem, inverted residuals per :data:`MOBILENET_V2_TABLE`, head 1x1 conv (``head.conv``,
    1280·max(1, α) channels) → pool → dropout → fc."""
    where = "build_mobilenet_v2"
    check_common(where, num_classes, in_chans, drop_rate, norm_layer, act_layer)
    width = check_multiplier("width_multiplier", width_multiplier, where)
    c_last = make_divisible(require_positive("last_channels", last_channels, where) * max(1.0, width), 8)

    def head(channels: int) -> ClassifierHead:
        conv = ConvNormAct(channels, c_last, 1, 1, 0, norm_layer=norm_layer, act_layer=act_layer)
        return ClassifierHead(channels, num_classes, drop_rate, conv=conv, conv_features=c_last)

    return _build(where, "ir", stage_table, width, stem_channels, head, in_chans, norm_layer, act_layer)


def _v2_from_torchvision(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision numbers blocks ``features.1 … features.17`` in order; its inner ``conv.<i>`` indices
    depend on whether the block has an expansion conv."""
    names = {"features.0.0": "stem.conv", "features.0.1": "stem.bn", "classifier.1": "head.fc"}
    index = 1
    for s, stage in enumerate(model.stages):
        for j, block in enumerate(stage):
            p, q = f"features.{index}.conv", f"stages.{s}.{j}"
            if block.has_expand:
                names.update({f"{p}.0.0": f"{q}.expand.conv", f"{p}.0.1": f"{q}.expand.bn",
                              f"{p}.1.0": f"{q}.dw.conv", f"{p}.1.1": f"{q}.dw.bn",
                              f"{p}.2": f"{q}.project.conv", f"{p}.3": f"{q}.project.bn"})
            else:
                names.update({f"{p}.0.0": f"{q}.dw.conv", f"{p}.0.1": f"{q}.dw.bn",
                              f"{p}.1": f"{q}.project.conv", f"{p}.2": f"{q}.project.bn"})
            index += 1
    names.update({f"features.{index}.0": "head.conv.conv", f"features.{index}.1": "head.conv.bn"})
    out = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        out[f"{names.get(prefix, prefix)}.{leaf}"] = value
    return out


register_converter("mobilenet_v2", "torchvision", _v2_from_torchvision)
# timm's EfficientNet-style mobilenetv1_100 keys.
register_converter("mobilenet_v1", "timm", regex_converter([
    (r"^conv_stem\.", "stem.conv."),
    (r"^bn1\.", "stem.bn."),
    (r"^blocks\.(\d+)\.(\d+)\.conv_dw\.", r"stages.\1.\2.dw.conv."),
    (r"^blocks\.(\d+)\.(\d+)\.bn1\.", r"stages.\1.\2.dw.bn."),
    (r"^blocks\.(\d+)\.(\d+)\.conv_pw\.", r"stages.\1.\2.pw.conv."),
    (r"^blocks\.(\d+)\.(\d+)\.bn2\.", r"stages.\1.\2.pw.bn."),
    (r"^classifier\.", "head.fc."),
]))

register_variant("mobilenet_v1", build_mobilenet_v1, family="mobilenet_v1",
                 paper="Howard et al. 2017, MobileNets (Table 1)")
for _alpha in ("075", "050", "025"):  # Table 6: width multipliers 0.75, 0.5, 0.25
    register_variant(f"mobilenet_v1_{_alpha}", build_mobilenet_v1, family="mobilenet_v1",
                     paper=f"Howard et al. 2017, MobileNets (Table 6, α={int(_alpha) / 100:g})",
                     width_multiplier=int(_alpha) / 100)
# Published weights (create_model(name, pretrained=True)): torchvision's IMAGENET1K_V1 file of MobileNet V2,
# the one its own pretrained=True loads (the hex digits are the start of the file's sha256). timm publishes
# mobilenetv1_100 on the Hugging Face hub under a name without its hash, so cnnlab cannot check a download of
# it: load it with checkpoint=timm.create_model("mobilenetv1_100", pretrained=True).state_dict().
MOBILENET_WEIGHTS: dict[str, PublishedWeights] = {
    "mobilenet_v2": torchvision_weights("mobilenet_v2-b0353104.pth"),
}
register_variant("mobilenet_v2", build_mobilenet_v2, family="mobilenet_v2",
                 paper="Sandler et al. 2018, MobileNetV2 (Table 2)", published=MOBILENET_WEIGHTS["mobilenet_v2"])
