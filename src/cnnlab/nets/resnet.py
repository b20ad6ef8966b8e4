"""ResNet, its v1 / v1.5 / wide / ResNeXt members and the lecture's small-input ResNet-18 variants.

Stage table: He et al. 2016, Table 1 (conv2_x … conv5_x); ResNeXt: Xie et al. 2017, Table 1 (the same table
with a grouped 3x3, C = ``groups``, bottleneck width ``width_per_group`` × C for the first stage). Wide
ResNets here are torchvision's (bottleneck twice as wide), not the CIFAR WRN-d-k of the WRN paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from cnnlab.arith.checks import require_choice, require_int, require_positive
from cnnlab.blocks._common import ReLU
from cnnlab.blocks.resnet import BasicBlock, Bottleneck
from cnnlab.errors import ConfigError
from cnnlab.nets.base import (
    ClassifierHead,
    StageStack,
    ZooNet,
    check_common,
    init_weights,
    min_input_size,
)
from cnnlab.nets.paper_table import convs, table_row
from cnnlab.nets.published import PublishedWeights, torchvision_weights
from cnnlab.nets.registry import register_variant
from cnnlab.nets.weights import regex_converter, register_converter
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["RESNET_DEPTHS", "RESNET_WEIGHTS", "ResNetStage", "build_resnet", "resnet_paper_table", "resnet_stages"]


@dataclass(frozen=True)
class ResNetStage:
    """One row of ResNet Table 1: ``depth`` blocks, the first with ``stride``."""

    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1)
    depth: int
    out_channels: int
    stride: int
    mid_channels: int | None = None  # bottleneck width (the 3x3's channels); None for basic blocks
    groups: int = 1  # grouped 3x3: ResNeXt's cardinality C


# Table 1 of He et al. 2016: block type and blocks per stage (conv2_x … conv5_x).
RESNET_DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def resnet_stages(block: str, depths: Sequence[int], widths: Sequence[int] = (64, 128, 256, 512),
                  groups: int = 1, width_per_group: int = 64) -> list[ResNetStage]:
    """The stage table: ``widths`` are Table 1's 3x3 widths (64 … 512); a bottleneck stage outputs 4×."""
    where = "resnet stage table"
    require_choice("block", block, ("basic", "bottleneck"), where)
    if not isinstance(depths, Sequence) or isinstance(depths, str) or len(depths) == 0:
        raise ConfigError(f"{where}: depths must be a non-empty sequence of ints, got {depths!r}")
    if not isinstance(widths, Sequence) or isinstance(widths, str) or len(widths) != len(depths):
        raise ConfigError(f"{where}: widths must be a sequence as long as depths ({len(depths)}), got {widths!r}")
    for d in depths:
        require_positive("depths[i]", d, where)
    for w in widths:
        require_positive("widths[i]", w, where)
    groups = require_positive("groups", groups, where)
    width_per_group = require_positive("width_per_group", width_per_group, where)
    if block == "basic" and (groups != 1 or width_per_group != 64):
        raise ConfigError(f"{where}: BasicBlock supports only groups=1, width_per_group=64, got "
                          f"groups={groups}, width_per_group={width_per_group}")
    stages = []
    for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
        stride = 1 if i == 0 else 2
        if block == "basic":
            stages.append(ResNetStage("basic", depth, width, stride))
        else:
            mid = int(width * (width_per_group / 64.0)) * groups
            if mid < 1:
                raise ConfigError(f"{where}: widths[{i}]={width} with width_per_group={width_per_group} gives "
                                  f"a bottleneck of {mid} channels")
            stages.append(ResNetStage("bottleneck", depth, width * Bottleneck.expansion, stride, mid, groups))
    return stages


def _stem(kind: str, in_chans: int, width: int, stride: int, pool: bool,
          norm_layer: LayerFactory | None, act_layer: LayerFactory | None) -> tuple[nn.Sequential, list]:
    """``"7x7"``: conv 7x7/stride → 3x3/2 max-pool (Table 1, conv1). ``"root"``: three 3x3/1 convs →
    2x2/2 max-pool (ScratchDet's Root-ResNet). Returns the stem and its spatial ops for the size check."""
    stem = nn.Sequential()
    if kind == "7x7":
        stem.add_module("conv1", ConvNormAct(in_chans, width, 7, stride, 3, norm_layer=norm_layer,
                                             act_layer=act_layer))
        ops = [(7, stride, 3, False)]
        if pool:
            stem.add_module("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
            ops.append((3, 2, 1, False))
    else:
        for i in range(3):
            stem.add_module(f"conv{i + 1}", ConvNormAct(in_chans if i == 0 else width, width, 3, stride if i == 0
                                                        else 1, 1, norm_layer=norm_layer, act_layer=act_layer))
        ops = [(3, stride, 1, False)]
        if pool:
            stem.add_module("pool", nn.MaxPool2d(kernel_size=2, stride=2))
            ops.append((2, 2, 0, False))
    return stem, ops


def build_resnet(
    *,
    block: str = "bottleneck",
    depths: Sequence[int] = (3, 4, 6, 3),
    widths: Sequence[int] = (64, 128, 256, 512),
    groups: int = 1,
    width_per_group: int = 64,
    stride_on: str = "3x3",
    stem: str = "7x7",
    stem_width: int = 64,
    stem_stride: int = 2,
    stem_pool: bool = True,
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    zero_init_residual: bool = False,
    norm_layer: LayerFactory | None = nn.BatchNorm2d,
    act_layer: LayerFactory | None = ReLU,
) -> ZooNet:
    """Build a ResNet / ResNeXt / wide ResNet from its stage table (see :func:`resnet_stages`).

    ``stride_on``: "3x3" (v1.5, torchvision) or "1x1" (the paper, v1), see ``cnnlab.blocks.resnet``.
    ``zero_init_residual``: start each residual branch's last BN at γ = 0 (Goyal et al. 2017).
    """
    where = "build_resnet"
    check_common(where, num_classes, in_chans, drop_rate, norm_layer, act_layer)
    require_choice("stem", stem, ("7x7", "root"), where)
    require_choice("stem_stride", require_int("stem_stride", stem_stride, where), (1, 2), where)
    require_positive("stem_width", stem_width, where)
    require_choice("stride_on", stride_on, ("3x3", "1x1"), where)
    specs = resnet_stages(block, depths, widths, groups, width_per_group)
    stem_module, ops = _stem(stem, in_chans, stem_width, stem_stride, bool(stem_pool), norm_layer, act_layer)
    stages = StageStack(stem_width, stem_stride * (2 if stem_pool else 1))
    for spec in specs:
        def make(j: int, c: int, stride: int, spec: ResNetStage = spec) -> nn.Module:
            if spec.block == "basic":
                return BasicBlock(c, spec.out_channels, stride, norm_layer=norm_layer, act_layer=act_layer)
            return Bottleneck(c, spec.out_channels, stride, spec.mid_channels, spec.groups, stride_on,
                              norm_layer=norm_layer, act_layer=act_layer)
        stages.add_repeated(make, spec.out_channels, spec.depth, spec.stride)
        ops.append((3, spec.stride, 1, False))
    head = ClassifierHead(stages.channels, num_classes, drop_rate)
    model = ZooNet(stem_module, stages, head, stage_specs=specs, in_chans=in_chans, min_size=min_input_size(ops))
    init_weights(model)
    model.paper_table = resnet_paper_table
    if zero_init_residual:
        for m in model.modules():
            norm = m.last_norm() if isinstance(m, (BasicBlock, Bottleneck)) else None
            if norm is not None and getattr(norm, "weight", None) is not None:
                nn.init.zeros_(norm.weight)
    return model


def resnet_paper_table(model: ZooNet) -> dict:
    """He et al. 2016, Table 1 (ResNeXt: Xie et al. 2017, Table 1): conv1; conv2_x with the stem's max pool
    before its blocks; conv3_x … as [first block] × blocks; then pool and fc. The column is named by the
    weight layers on the main path ("50-layer") or, with grouped 3x3s, "ResNeXt-50 (32×4d)"."""
    stem = list(model.stem.named_children())
    pools = [f"stem.{n}" for n, m in stem if isinstance(m, nn.MaxPool2d)]
    rows = [table_row("conv1", [f"stem.{n}" for n, m in stem if not isinstance(m, nn.MaxPool2d)])]
    for i, stage in enumerate(model.stages):
        lead = pools if i == 0 else []
        rows.append(table_row(f"conv{i + 2}_x", [*lead, f"stages.{i}"], lead=lead, block=f"stages.{i}.0",
                              repeats=len(stage)))
    rows.append(table_row("classifier", ["head"]))
    layers = len(convs(model.stem)) + sum(len(convs(block)) for stage in model.stages for block in stage)
    layers += sum(isinstance(m, nn.Linear) for m in model.head.modules())
    grouped = max(convs(model.stages[0][0]), key=lambda c: c.groups)
    if grouped.groups > 1:
        header = f"ResNeXt-{layers} ({grouped.groups}×{grouped.out_channels // grouped.groups}d)"
        source = "Xie et al. 2017, ResNeXt, Table 1"
    else:
        header, source = f"{layers}-layer", "He et al. 2016, Deep Residual Learning, Table 1"
    return {"source": source, "rows": rows,
            "columns": [("layer name", "name"), ("output size", "output size"), (header, "block")]}


# torchvision's (and timm's) ResNet keys -> cnnlab's.
register_converter("resnet", "torchvision", regex_converter([
    (r"^conv1\.", "stem.conv1.conv."),
    (r"^bn1\.", "stem.conv1.bn."),
    (r"^layer(\d+)\.(\d+)\.conv(\d)\.", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.conv{m[3]}.conv."),
    (r"^layer(\d+)\.(\d+)\.bn(\d)\.", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.conv{m[3]}.bn."),
    (r"^layer(\d+)\.(\d+)\.downsample\.0\.", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.shortcut.conv."),
    (r"^layer(\d+)\.(\d+)\.downsample\.1\.", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.shortcut.bn."),
    (r"^fc\.", "head.fc."),
]))

_RESNET = "He et al. 2016, Deep Residual Learning (Table 1)"
_V1 = "He et al. 2016 (Table 1), stride on the 1x1 as in the paper"
_WIDE = "Zagoruyko & Komodakis 2016, Wide ResNets (torchvision's 2x-wide bottleneck)"
_RESNEXT = "Xie et al. 2017, Aggregated Residual Transformations (Table 1)"
_SCRATCHDET = "Zhu et al. 2019, ScratchDet (ResNet-18 variants, Fig. 4)"


# Published weights (create_model(name, pretrained=True)): torchvision's IMAGENET1K_V1 files, the ones its own
# pretrained=True loads (torchvision.models.get_model_weights(name).IMAGENET1K_V1.url); the hex digits in a
# name are the start of the file's sha256. The paper's v1 and the ScratchDet variants have none.
RESNET_WEIGHTS: dict[str, PublishedWeights] = {
    "resnet18": torchvision_weights("resnet18-f37072fd.pth"),
    "resnet34": torchvision_weights("resnet34-b627a593.pth"),
    "resnet50": torchvision_weights("resnet50-0676ba61.pth"),
    "resnet101": torchvision_weights("resnet101-63fe2227.pth"),
    "resnet152": torchvision_weights("resnet152-394f9c45.pth"),
    "resnext50_32x4d": torchvision_weights("resnext50_32x4d-7cdf4587.pth"),
    "resnext101_32x8d": torchvision_weights("resnext101_32x8d-8ba56ff5.pth"),
    "wide_resnet50_2": torchvision_weights("wide_resnet50_2-95faca4d.pth"),
    "wide_resnet101_2": torchvision_weights("wide_resnet101_2-32ee1156.pth"),
}


def _register(name: str, paper: str, depth: int, **defaults: object) -> None:
    block, depths = RESNET_DEPTHS[depth]
    register_variant(name, build_resnet, family="resnet", paper=paper, published=RESNET_WEIGHTS.get(name),
                     block=block, depths=depths, **defaults)


for _depth in (18, 34, 50, 101, 152):
    _register(f"resnet{_depth}", _RESNET + (", v1.5: stride on the 3x3" if _depth >= 50 else ""), _depth)
for _depth in (50, 101, 152):
    _register(f"resnet{_depth}_v1", _V1, _depth, stride_on="1x1")
_register("wide_resnet50_2", _WIDE, 50, width_per_group=128)
_register("wide_resnet101_2", _WIDE, 101, width_per_group=128)
_register("resnext50_32x4d", _RESNEXT, 50, groups=32, width_per_group=4)
_register("resnext101_32x8d", _RESNEXT, 101, groups=32, width_per_group=8)
_register("resnet18_a", _SCRATCHDET + ": no first max-pool", 18, stem_pool=False)
_register("resnet18_b", _SCRATCHDET + ": first conv stride 1", 18, stem_stride=1)
_register("root_resnet18", _SCRATCHDET + ": root stem, three 3x3 convs", 18, stem="root", stem_stride=1)
