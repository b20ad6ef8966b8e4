"""VGG (Simonyan & Zisserman 2015, Table 1, configurations A, B, D, E), optionally with BatchNorm.

Head as torchvision: 7x7 adaptive average pool (so any input ≥ 32 works), 4096-4096-classes MLP with
dropout. Each stage is one :class:`~cnnlab.blocks.VGGBlock` (its convs, then the 2x2 max-pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.arith.checks import require_non_negative, require_positive
from cnnlab.blocks._common import ReLU
from cnnlab.blocks.vgg import VGGBlock
from cnnlab.errors import ConfigError
from cnnlab.nets.base import StageStack, ZooNet, check_common
from cnnlab.nets.paper_table import convs, table_row
from cnnlab.nets.published import PublishedWeights, torchvision_weights
from cnnlab.nets.registry import register_variant
from cnnlab.nets.weights import register_converter
from cnnlab.units.conv_norm_act import LayerFactory

__all__ = ["VGG_CONFIGS", "VGG_LETTERS", "VGG_WEIGHTS", "VGGHead", "VGGStage", "build_vgg", "vgg_paper_table", "vgg_stages"]


@dataclass(frozen=True)
class VGGStage:
    """One group of Table 1: ``num_convs`` 3x3 convs of ``out_channels``, then max-pool."""

    num_convs: int
    out_channels: int


# Table 1 columns A (11 weight layers), B (13), D (16), E (19): convs per stage.
VGG_CONFIGS: dict[int, tuple[int, ...]] = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}
VGG_WIDTHS = (64, 128, 256, 512, 512)
VGG_LETTERS = {11: "A", 13: "B", 16: "D", 19: "E"}  # Table 1's column for each count of weight layers


def vgg_stages(convs: Sequence[int], widths: Sequence[int] = VGG_WIDTHS) -> list[VGGStage]:
    where = "vgg stage table"
    if not isinstance(convs, Sequence) or isinstance(convs, str) or not convs or not isinstance(
            widths, Sequence) or len(widths) != len(convs):
        raise ConfigError(f"{where}: convs and widths must be sequences of equal length, got {convs!r}, {widths!r}")
    return [VGGStage(require_positive("convs[i]", n, where), require_positive("widths[i]", w, where))
            for n, w in zip(convs, widths, strict=True)]


class VGGHead(nn.Module):
    """7x7 adaptive avg-pool → fc1 (·→hidden) → ReLU → dropout → fc2 → ReLU → dropout → fc. Children
    ``pool``, ``fc1``, ``act1``, ``drop1``, ``fc2``, ``act2``, ``drop2``, ``fc``."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 4096, drop_rate: float = 0.5,
                 pool_size: int = 7) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc1 = nn.Linear(in_channels * pool_size * pool_size, hidden)
        self.act1 = nn.ReLU(inplace=True)
        self.drop1 = nn.Dropout(drop_rate)
        self.fc2 = nn.Linear(hidden, hidden)
        self.act2 = nn.ReLU(inplace=True)
        self.drop2 = nn.Dropout(drop_rate)
        self.num_features = hidden
        self.reset(num_classes)

    def reset(self, num_classes: int) -> None:
        self.num_classes = require_non_negative("num_classes", num_classes, "VGG head")
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.pool(x), 1)
        x = self.drop1(self.act1(self.fc1(x)))
        x = self.drop2(self.act2(self.fc2(x)))
        return x if pre_logits else self.fc(x)


def build_vgg(
    *,
    convs: Sequence[int] = VGG_CONFIGS[16],
    widths: Sequence[int] = VGG_WIDTHS,
    batch_norm: bool = False,
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.5,
    hidden: int = 4096,
    norm_layer: LayerFactory | None = nn.BatchNorm2d,
    act_layer: LayerFactory | None = ReLU,
) -> ZooNet:
    """Build a VGG from its stage table; ``batch_norm`` inserts ``norm_layer`` after every conv."""
    where = "build_vgg"
    check_common(where, num_classes, in_chans, drop_rate, norm_layer, act_layer)
    require_positive("hidden", hidden, where)
    specs = vgg_stages(convs, widths)
    stages = StageStack(in_chans)  # no stem: the first stage reads the image
    for spec in specs:
        block = VGGBlock(stages.channels, spec.out_channels, 2, spec.num_convs,
                         norm_layer=norm_layer if batch_norm else None, act_layer=act_layer)
        stages.add(nn.Sequential(block), spec.out_channels, 2)  # the convs keep the size, the 2x2 pool halves it
    model = ZooNet(nn.Identity(), stages, VGGHead(stages.channels, num_classes, hidden, drop_rate),
                   stage_specs=specs, in_chans=in_chans, min_size=2 ** len(specs))
    for m in model.modules():  # torchvision's VGG init
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    model.paper_table = vgg_paper_table
    return model


def vgg_paper_table(model: ZooNet) -> dict:
    """Table 1 of Simonyan & Zisserman 2015, one row per layer as its columns read: ``conv3-64`` (kernel,
    channels), ``maxpool``, ``FC-4096``; torchvision's adaptive average pool before the FCs named as such.
    The column is the configuration letter of the network's weight-layer count ("D (16 weight layers)")."""
    rows = []
    for i, stage in enumerate(model.stages):
        for j, block in enumerate(stage):
            for name, unit in block.named_children():
                path = f"stages.{i}.{j}.{name}"
                if isinstance(unit, nn.MaxPool2d):
                    rows.append(table_row("maxpool", [path]))
                elif convs(unit):
                    conv = convs(unit)[0]
                    rows.append(table_row(f"conv{conv.kernel_size[0]}-{conv.out_channels}", [path]))
    for name, unit in model.head.named_children():
        if isinstance(unit, nn.AdaptiveAvgPool2d):
            size = unit.output_size if isinstance(unit.output_size, int) else unit.output_size[0]
            rows.append(table_row(f"adaptive average pool to {size}x{size}", [f"head.{name}"]))
        elif isinstance(unit, nn.Linear):
            rows.append(table_row(f"FC-{unit.out_features}", [f"head.{name}"]))
    layers = sum(r["name"].startswith(("conv", "FC")) for r in rows)
    letter = VGG_LETTERS.get(layers)
    header = f"ConvNet configuration {letter} ({layers} weight layers)" if letter else f"{layers} weight layers"
    return {"source": "Simonyan & Zisserman 2015, Very Deep ConvNets, Table 1", "rows": rows,
            "columns": [(header, "name"), ("output size", "output size")]}


def _from_torchvision(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision numbers ``features.<i>`` through convs, BNs, ReLUs and pools; walk our table alike."""
    names: dict[str, str] = {"classifier.0": "head.fc1", "classifier.3": "head.fc2", "classifier.6": "head.fc"}
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.stages.modules())
    index = 0
    for s, spec in enumerate(model.stage_specs):
        for j in range(spec.num_convs):
            names[f"features.{index}"] = f"stages.{s}.0.conv{j + 1}.conv"
            if has_bn:
                names[f"features.{index + 1}"] = f"stages.{s}.0.conv{j + 1}.bn"
            index += 3 if has_bn else 2
        index += 1  # max-pool
    out = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        out[f"{names.get(prefix, prefix)}.{leaf}"] = value
    return out


register_converter("vgg", "torchvision", _from_torchvision)

# Published weights (create_model(name, pretrained=True)): torchvision's IMAGENET1K_V1 files, the ones its own
# pretrained=True loads (torchvision.models.get_model_weights(name).IMAGENET1K_V1.url); the hex digits in a
# name are the start of the file's sha256.
VGG_WEIGHTS: dict[str, PublishedWeights] = {
    "vgg11": torchvision_weights("vgg11-8a719046.pth"),
    "vgg11_bn": torchvision_weights("vgg11_bn-6002323d.pth"),
    "vgg13": torchvision_weights("vgg13-19584684.pth"),
    "vgg13_bn": torchvision_weights("vgg13_bn-abd245e5.pth"),
    "vgg16": torchvision_weights("vgg16-397923af.pth"),
    "vgg16_bn": torchvision_weights("vgg16_bn-6c64b313.pth"),
    "vgg19": torchvision_weights("vgg19-dcbb9e9d.pth"),
    "vgg19_bn": torchvision_weights("vgg19_bn-c79401a0.pth"),
}

_PAPER = "Simonyan & Zisserman 2015, Very Deep ConvNets (Table 1, config {})"
for _depth, _config in VGG_CONFIGS.items():
    _letter = VGG_LETTERS[_depth]
    register_variant(f"vgg{_depth}", build_vgg, family="vgg", paper=_PAPER.format(_letter),
                     published=VGG_WEIGHTS[f"vgg{_depth}"], convs=_config)
    register_variant(f"vgg{_depth}_bn", build_vgg, family="vgg", paper=_PAPER.format(_letter) + " + BatchNorm",
                     published=VGG_WEIGHTS[f"vgg{_depth}_bn"], convs=_config, batch_norm=True)
