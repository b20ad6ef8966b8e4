"""GoogLeNet (Szegedy et al. 2015, Table 1): the torchvision build and the paper's.

* ``googlenet`` — torchvision's: BN (eps 1e-3) after every conv, no LRN, a 3x3 conv in the "5x5" branch
  (pytorch/vision#906), auxiliary classifiers only with ``aux_logits=True``. Weights load 1:1; its ImageNet
  weights were trained on inputs scaled to [-1, 1], so ``pretrained=True`` builds it with
  ``transform_input=True`` (as torchvision does), which takes ImageNet-normalised inputs.
* ``googlenet_paper`` — the paper's: a true 5x5 branch, convs with bias and no BN, LRN after the first
  pool and after conv2 (as the reference Caffe model).

Stages: inception (3a, 3b) | max-pool, (4a … 4e) | max-pool, (5a, 5b); the stem ends at stride 8.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from cnnlab.arith.checks import pair
from cnnlab.blocks._common import ReLU
from cnnlab.blocks.inception import InceptionBlock
from cnnlab.errors import ConfigError
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet, check_common, check_drop_rate, min_input_size
from cnnlab.nets.paper_table import convs, fmt, kernel, table_row
from cnnlab.nets.published import torchvision_weights
from cnnlab.nets.registry import register_variant
from cnnlab.nets.weights import regex_converter, register_converter
from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory

__all__ = ["GOOGLENET_TABLE", "GOOGLENET_WEIGHTS", "GoogLeNet", "GoogLeNetOutputs", "InceptionSpec",
           "InputTransform", "build_googlenet", "googlenet_paper_table"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's normalisation


@dataclass(frozen=True)
class InceptionSpec:
    """A row of Table 1: name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj."""

    name: str
    ch1x1: int
    ch3x3red: int
    ch3x3: int
    ch5x5red: int
    ch5x5: int
    pool_proj: int

    @property
    def out_channels(self) -> int:
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj


# Table 1 of Szegedy et al. 2015, grouped by the stage they run in (stride 8, 16, 32).
GOOGLENET_TABLE: list[list[InceptionSpec]] = [
    [InceptionSpec("3a", 64, 96, 128, 16, 32, 32),
     InceptionSpec("3b", 128, 128, 192, 32, 96, 64)],
    [InceptionSpec("4a", 192, 96, 208, 16, 48, 64),
     InceptionSpec("4b", 160, 112, 224, 24, 64, 64),
     InceptionSpec("4c", 128, 128, 256, 24, 64, 64),
     InceptionSpec("4d", 112, 144, 288, 32, 64, 64),
     InceptionSpec("4e", 256, 160, 320, 32, 128, 128)],
    [InceptionSpec("5a", 256, 160, 320, 32, 128, 128),
     InceptionSpec("5b", 384, 192, 384, 48, 128, 128)],
]


class InceptionAux(nn.Module):
    """Auxiliary classifier (Sec. 5): 5x5/3 avg-pool (here adaptive 4x4) → 1x1 conv 128 → fc 1024 → fc."""

    def __init__(self, in_channels: int, num_classes: int, conv: partial, drop_rate: float = 0.7) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(drop_rate)
        self.fc2 = nn.Linear(1024, max(num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.drop(self.act(self.fc1(x))))


class InputTransform(nn.Module):
    """torchvision's ``transform_input``: inputs normalised with ImageNet's mean and std, re-normalised to
    mean 0.5, std 0.5 per channel, the inputs torchvision's GoogLeNet weights were trained on."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor([s / 0.5 for s in std]).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor([(m - 0.5) / 0.5 for m in mean]).view(1, -1, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class GoogLeNet(ZooNet):
    """ZooNet whose training forward also returns the two auxiliary logits when ``aux1``/``aux2`` exist."""

    aux1: InceptionAux | None
    aux2: InceptionAux | None

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                aux.fc2 = nn.Linear(aux.fc2.in_features, max(num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        if self.aux1 is None or not self.training:
            return super().forward(x)
        if isinstance(x, torch.Tensor):
            self.check_input(x)
        x = self.stages[0](self.stem(x))
        aux1 = aux2 = None
        for i, module in enumerate(self.stages[1]):
            x = module(x)
            if i == 1:  # after 4a
                aux1 = self.aux1(x)
            elif i == 4:  # after 4d
                aux2 = self.aux2(x)
        x = self.stages[2](x)
        return GoogLeNetOutputs(self.forward_head(x), aux2, aux1)


def build_googlenet(
    *,
    kernel_5x5: int = 3,
    batch_norm: bool = True,
    lrn: bool = False,
    aux_logits: bool = False,
    transform_input: bool = False,
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.2,
    aux_drop_rate: float = 0.7,
    norm_layer: LayerFactory | None = partial(nn.BatchNorm2d, eps=0.001),
    act_layer: LayerFactory | None = ReLU,
) -> GoogLeNet:
    """Build GoogLeNet from :data:`GOOGLENET_TABLE`; ``transform_input``: start the stem with
    :class:`InputTransform` (torchvision's, for its ImageNet weights; 3 input channels)."""
    where = "build_googlenet"
    check_common(where, num_classes, in_chans, drop_rate, norm_layer, act_layer)
    check_drop_rate(aux_drop_rate, where)
    if transform_input and in_chans != 3:
        raise ConfigError(f"{where}: transform_input re-normalises ImageNet's 3 channels, got in_chans={in_chans}")
    norm = norm_layer if batch_norm else None
    conv = partial(ConvNormAct, norm_layer=norm, act_layer=act_layer)

    def pool(k: int = 3) -> nn.MaxPool2d:
        return nn.MaxPool2d(k, stride=2, ceil_mode=True)

    stem = nn.Sequential()
    if transform_input:
        stem.add_module("transform", InputTransform())
    stem.add_module("conv1", conv(in_chans, 64, 7, 2, 3))
    stem.add_module("pool1", pool())
    if lrn:
        stem.add_module("lrn1", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75))
    stem.add_module("conv2", conv(64, 64, 1))
    stem.add_module("conv3", conv(64, 192, 3, 1, 1))
    if lrn:
        stem.add_module("lrn2", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75))
    stem.add_module("pool2", pool())
    ops = [(7, 2, 3, False), (3, 2, 0, True), (3, 2, 0, True)]
    stages = StageStack(192, 8)  # conv1 and the two max-pools, stride 2 each
    for s, rows in enumerate(GOOGLENET_TABLE):
        stage, cin = nn.Sequential(), stages.channels
        if s > 0:  # a stage after the first starts with the max-pool between inception groups
            stage.add_module("pool", pool(3 if s == 1 else 2))
            ops.append((3, 2, 0, True) if s == 1 else (2, 2, 0, True))
        for row in rows:
            stage.add_module(f"inception{row.name}", InceptionBlock(
                cin, row.out_channels, 1, ch1x1=row.ch1x1, ch3x3red=row.ch3x3red, ch3x3=row.ch3x3,
                ch5x5red=row.ch5x5red, ch5x5=row.ch5x5, pool_proj=row.pool_proj, kernel_5x5=kernel_5x5,
                norm_layer=norm, act_layer=act_layer))
            cin = row.out_channels
        stages.add(stage, cin, 2 if s > 0 else 1)
    model = GoogLeNet(stem, stages, ClassifierHead(stages.channels, num_classes, drop_rate),
                      stage_specs=GOOGLENET_TABLE, in_chans=in_chans, min_size=min_input_size(ops))
    model.aux1 = InceptionAux(512, num_classes, conv, aux_drop_rate) if aux_logits else None
    model.aux2 = InceptionAux(528, num_classes, conv, aux_drop_rate) if aux_logits else None
    for m in model.modules():  # torchvision's GoogLeNet init: truncated normal, std 0.01
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    model.paper_table = googlenet_paper_table
    return model


_BRANCH_COLUMNS = ("#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj")
_COLUMNS = [("type", "name"), ("patch size/stride", "patch"), ("output size", "output size"), ("depth", "depth"),
            *((c, c) for c in _BRANCH_COLUMNS)]


def _patch(m: nn.Module) -> str:
    return f"{kernel(m)}/{pair('stride', m.stride)[0]}"


def _inception_cells(block: InceptionBlock) -> dict[str, str]:
    """Table 1's branch widths, read from the branches' convs; a "5x5" branch built with another kernel
    (torchvision's 3x3) says so: ``32 (3x3)``."""
    b2, b3, b4 = convs(block.branch2), convs(block.branch3), convs(block.branch4)
    five = b3[-1].out_channels if kernel(b3[-1]) == "5x5" else f"{b3[-1].out_channels} ({kernel(b3[-1])})"
    cells = {"#1x1": block.branch1.conv.out_channels, "#3x3 reduce": b2[0].out_channels if len(b2) > 1 else "",
             "#3x3": b2[-1].out_channels, "#5x5 reduce": b3[0].out_channels if len(b3) > 1 else "",
             "#5x5": five, "pool proj": b4[0].out_channels if b4 else ""}
    return {k: str(v) for k, v in cells.items()}


def googlenet_paper_table(model: GoogLeNet) -> dict:
    """Table 1 of Szegedy et al. 2015: one row per layer (type, patch size/stride, output size, depth, the
    inception branch widths). A 1x1 conv followed by a conv is one row of depth 2 with its reduce width,
    as the paper's "convolution 3x3/1 | #3x3 reduce 64 | #3x3 192"; LRN layers join the row before."""
    rows = []
    stem = [(n, m) for n, m in model.stem.named_children() if not isinstance(m, nn.LocalResponseNorm)]
    i = 0
    while i < len(stem):
        name, unit = stem[i]
        if isinstance(unit, nn.MaxPool2d):
            rows.append(table_row("max pool", [f"stem.{name}"], cells={"patch": _patch(unit), "depth": 0}))
        elif convs(unit):
            conv = convs(unit)[0]
            following = convs(stem[i + 1][1]) if i + 1 < len(stem) else []
            if conv.kernel_size == (1, 1) and following:
                k = following[0].kernel_size[0]
                rows.append(table_row("convolution", [f"stem.{name}", f"stem.{stem[i + 1][0]}"], cells={
                    "patch": _patch(following[0]), "depth": 2, f"#{k}x{k} reduce": conv.out_channels,
                    f"#{k}x{k}": following[0].out_channels}))
                i += 1
            else:
                rows.append(table_row("convolution", [f"stem.{name}"], cells={"patch": _patch(conv), "depth": 1}))
        i += 1
    for s, stage in enumerate(model.stages):
        for name, unit in stage.named_children():
            path = f"stages.{s}.{name}"
            if isinstance(unit, nn.MaxPool2d):
                rows.append(table_row("max pool", [path], cells={"patch": _patch(unit), "depth": 0}))
            elif isinstance(unit, InceptionBlock):
                label = name.removeprefix("inception")
                rows.append(table_row(f"inception ({label})", [path], channels=unit.out_channels,
                                      cells={"depth": 2, **_inception_cells(unit)}))
    for name, unit in model.head.named_children():
        if isinstance(unit, nn.AdaptiveAvgPool2d):
            rows.append(table_row("avg pool", [f"head.{name}"], cells={"patch": "{input_hw}/1", "depth": 0}))
        elif isinstance(unit, nn.Dropout):
            rows.append(table_row(f"dropout ({fmt(unit.p * 100)}%)", [f"head.{name}"], cells={"depth": 0}))
        elif isinstance(unit, nn.Linear):
            rows.append(table_row("linear", [f"head.{name}"], cells={"depth": 1}))
    return {"source": "Szegedy et al. 2015, Going Deeper with Convolutions, Table 1", "rows": rows,
            "columns": _COLUMNS, "channels": True}


def _inception(m: object) -> str:
    stage = {"3": 0, "4": 1, "5": 2}[m[1]]  # type: ignore[index]
    return f"stages.{stage}.inception{m[1]}{m[2]}."  # type: ignore[index]


_torchvision_keys = regex_converter([
    (r"^conv([123])\.", r"stem.conv\1."),
    (r"^inception([345])([a-e])\.", _inception),
    (r"^fc\.", "head.fc."),
])


def _from_torchvision(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision's keys; a model without auxiliary classifiers drops theirs, as torchvision's own
    ``googlenet(weights=..., aux_logits=False)`` does (its published file carries them)."""
    if getattr(model, "aux1", None) is None:
        state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    return _torchvision_keys(state, model)


register_converter("googlenet", "torchvision", _from_torchvision)

# Published weights (create_model("googlenet", pretrained=True)): torchvision's IMAGENET1K_V1 file, the one its
# own pretrained=True loads (the hex digits are the start of the file's sha256); torchvision builds the model for
# it with transform_input=True, and so does cnnlab.
GOOGLENET_WEIGHTS = torchvision_weights("googlenet-1378be20.pth", transform_input=True)

_PAPER = "Szegedy et al. 2015, Going Deeper with Convolutions (Table 1)"
register_variant("googlenet", build_googlenet, family="googlenet",
                 paper=_PAPER + ", torchvision build (BN, 3x3 in the 5x5 branch)", published=GOOGLENET_WEIGHTS)
register_variant("googlenet_paper", build_googlenet, family="googlenet", paper=_PAPER + ", as published",
                 kernel_5x5=5, batch_norm=False, lrn=True)
