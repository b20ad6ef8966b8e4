"""ShuffleNet V1 (Zhang et al. 2018, Table 1): 3x3/2 conv 24 → 3x3/2 max-pool → stages 2-4 of ShuffleUnits.

Output channels per stage depend on the group count g (Table 1 columns); the scale factor s multiplies
them (``ShuffleNet s×``). The first unit of Stage 2 keeps its first 1x1 dense (24 input channels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from cnnlab.arith.checks import require_choice, require_positive
from cnnlab.blocks._common import ReLU
from cnnlab.blocks.shufflenet import ShuffleUnit
from cnnlab.errors import ConfigError
from cnnlab.nets.base import (
    ClassifierHead,
    StageStack,
    ZooNet,
    check_common,
    check_multiplier,
    init_weights,
)
from cnnlab.nets.paper_table import convs, kernel, table_row
from cnnlab.nets.registry import register_variant
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["SHUFFLENET_CHANNELS", "SHUFFLENET_DEPTHS", "ShuffleStage", "build_shufflenet_v1",
           "shufflenet_paper_table"]


@dataclass(frozen=True)
class ShuffleStage:
    out_channels: int
    repeats: int  # units; the first has stride 2
    groups: int


# Table 1: output channels of Stages 2, 3, 4 for g = 1, 2, 3, 4, 8 (complexity ~140 MFLOPs at 1x).
SHUFFLENET_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
SHUFFLENET_DEPTHS = (4, 8, 4)  # Table 1: repeats of Stages 2, 3, 4


def build_shufflenet_v1(
    *,
    groups: int = 3,
    scale: float = 1.0,
    depths: Sequence[int] = SHUFFLENET_DEPTHS,
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    norm_layer: LayerFactory | None = nn.BatchNorm2d,
    act_layer: LayerFactory | None = ReLU,
) -> ZooNet:
    """Build ShuffleNet ``scale``× (g = ``groups``) from Table 1."""
    where = "build_shufflenet_v1"
    check_common(where, num_classes, in_chans, drop_rate, norm_layer, act_layer)
    require_choice("groups", groups, tuple(SHUFFLENET_CHANNELS), where)
    scale = check_multiplier("scale", scale, where)
    if not isinstance(depths, Sequence) or len(depths) != 3:
        raise ConfigError(f"{where}: depths must be three repeat counts (Stages 2-4), got {depths!r}")
    for d in depths:
        require_positive("depths[i]", d, where)
    # channels scaled and kept divisible by 4·g (bottleneck = out/4, split into g groups)
    unit = 4 * groups
    specs = [ShuffleStage(max(unit, int(round(c * scale / unit)) * unit), d, groups)
             for c, d in zip(SHUFFLENET_CHANNELS[groups], depths, strict=True)]
    stem_width = 24
    stem = nn.Sequential()
    stem.add_module("conv1", ConvNormAct(in_chans, stem_width, 3, 2, 1, norm_layer=norm_layer,
                                         act_layer=act_layer))
    stem.add_module("pool", nn.MaxPool2d(3, 2, 1))
    stages = StageStack(stem_width, 4)  # conv1 and the max-pool, stride 2 each
    for s, spec in enumerate(specs):
        def make(j: int, c: int, stride: int, spec: ShuffleStage = spec, first_stage: bool = s == 0) -> nn.Module:
            return ShuffleUnit(c, spec.out_channels, stride, groups, first_grouped=not (first_stage and j == 0),
                               norm_layer=norm_layer, act_layer=act_layer)
        stages.add_repeated(make, spec.out_channels, spec.repeats, 2)  # Table 1: every stage starts at stride 2
    model = ZooNet(stem, stages, ClassifierHead(stages.channels, num_classes, drop_rate), stage_specs=specs,
                   in_chans=in_chans)
    init_weights(model)
    model.paper_table = shufflenet_paper_table
    return model


def shufflenet_paper_table(model: ZooNet) -> dict:
    """Table 1 of Zhang et al. 2018: Image, Conv1, MaxPool, then each stage as two rows — its stride-2
    unit and the repeated stride-1 units, the stage's output channels written once — GlobalPool and FC,
    with KSize, Stride, Repeat; the channel column is named by the group count g of the grouped 1x1s."""
    g = max(c.groups for c in convs(model.stages) if c.groups != c.in_channels)
    rows = [table_row("Image", [], cells={"channels": model.in_chans})]
    for name, unit in model.stem.named_children():
        path = f"stem.{name}"
        if isinstance(unit, nn.MaxPool2d):
            rows.append(table_row("MaxPool", [path], cells={"ksize": kernel(unit), "stride": unit.stride}))
        elif convs(unit):
            conv = convs(unit)[0]
            rows.append(table_row("Conv1", [path], cells={"ksize": kernel(conv), "stride": conv.stride[0],
                                                          "repeat": 1, "channels": conv.out_channels}))
    for i, stage in enumerate(model.stages):
        channels = model.feature_info[i]["num_chs"]
        first = max(c.stride[0] for c in convs(stage[0]))
        rows.append(table_row(f"Stage{i + 2}", [f"stages.{i}.0"],
                              cells={"stride": first, "repeat": 1, "channels": channels}))
        if len(stage) > 1:
            rest = [f"stages.{i}.{j}" for j in range(1, len(stage))]
            rows.append(table_row("", rest, block=rest[0], repeats=len(rest),
                                  cells={"stride": 1, "repeat": len(rest)}))
    for name, unit in model.head.named_children():
        if isinstance(unit, nn.AdaptiveAvgPool2d):
            rows.append(table_row("GlobalPool", [f"head.{name}"], cells={"ksize": "{input_hw}"}))
        elif isinstance(unit, nn.Linear):
            rows.append(table_row("FC", [f"head.{name}"], cells={"channels": unit.out_features}))
    return {"source": "Zhang et al. 2018, ShuffleNet, Table 1", "rows": rows,
            "columns": [("Layer", "name"), ("Output size", "output size"), ("KSize", "ksize"),
                        ("Stride", "stride"), ("Repeat", "repeat"), (f"Output channels (g = {g})", "channels")]}


_PAPER = "Zhang et al. 2018, ShuffleNet (Table 1, g={})"
for _g in (3, 8):
    register_variant(f"shufflenet_v1_g{_g}", build_shufflenet_v1, family="shufflenet", paper=_PAPER.format(_g),
                     groups=_g)
