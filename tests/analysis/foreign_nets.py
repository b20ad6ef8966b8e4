"""Networks nobody here wrote, to hold the analytic receptive field against the gradient oracle.

Each entry is a constructor (random init, no weights), an ODD, NON-SQUARE input size and the map to
measure: classifiers are truncated before their global pooling, segmentation models give their "out"
tensor. ``window`` consecutive output units are measured per axis; where ``interior`` is set the input
leaves room, along at least one axis, for a window of units whose dependency cone stays away from every
border (the h axis of the tall inputs), which is where the theoretical field can be measured. Deep nets
get a tall input just over their field (h interior) and the narrowest width they run at (w: border units
only): the float64 oracle's cost grows with the area, and the field is separable by axis (two nets also
come wide, for the w axis). Segmentation models resize to the input size (a period as long as the map)
and the bilinear U-Net resizes with align_corners=True (no theoretical field): image boxes only.

The hand-written nets follow their authors' published code, layer for layer and in their idiom
(functional padding, chomps, ``spectral_norm`` wrappers ...), at reduced width; each names its source.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.nn.utils import spectral_norm
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["ForeignNet", "FOREIGN_NETS", "by_name"]


class Picked(nn.Module):
    """``net`` whose output is reduced to the measured map by ``pick`` (a dict key or a function)."""

    def __init__(self, net: nn.Module, pick: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.net = net
        self.pick = pick

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pick(self.net, x)


def _features(net: nn.Module) -> nn.Module:
    """A timm classifier truncated before its global pooling (``forward_features``)."""
    return Picked(net, lambda m, x: m.forward_features(x))


def _out(net: nn.Module) -> nn.Module:
    """A torchvision segmentation model's ``out`` tensor."""
    return Picked(net, lambda m, x: m(x)["out"])


def _children(net: nn.Module, last: str, skip: tuple[str, ...] = ()) -> nn.Module:
    """The top-level children of ``net`` up to and including ``last`` (the forward runs them in order)."""
    kept = []
    for name, child in net.named_children():
        if name not in skip:
            kept.append((name, child))
        if name == last:
            return nn.Sequential(OrderedDict(kept))
    raise KeyError(last)


# --- U-Net, Ronneberger et al. 2015; code of milesial/Pytorch-UNet (unet/unet_parts.py, unet_model.py) ---
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        diffY = x2.size()[2] - x1.size()[2]  # noqa: N806 - the authors' names
        diffX = x2.size()[3] - x1.size()[3]  # noqa: N806
        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear=False, width=64):
        super().__init__()
        w = width
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, w)
        self.down1 = Down(w, 2 * w)
        self.down2 = Down(2 * w, 4 * w)
        self.down3 = Down(4 * w, 8 * w)
        self.down4 = Down(8 * w, 16 * w // factor)
        self.up1 = Up(16 * w, 8 * w // factor, bilinear)
        self.up2 = Up(8 * w, 4 * w // factor, bilinear)
        self.up3 = Up(4 * w, 2 * w // factor, bilinear)
        self.up4 = Up(2 * w, w, bilinear)
        self.outc = nn.Conv2d(w, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


# --- TCN, Bai et al. 2018; locuslab/TCN (TCN/tcn.py), causal padding as F.pad on the left (WaveNet style) ---
class TemporalBlock(nn.Module):
    def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation, dropout=0.2):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv1 = weight_norm(nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride, dilation=dilation))
        self.dropout = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None

    def forward(self, x):
        out = self.dropout(F.relu(self.conv1(F.pad(x, (self.pad, 0)))))
        out = self.dropout(F.relu(self.conv2(F.pad(out, (self.pad, 0)))))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(out + res)


class TemporalConvNet(nn.Module):
    def __init__(self, num_inputs, num_channels, kernel_size=2, dropout=0.2):
        super().__init__()
        layers = []
        for i in range(len(num_channels)):
            dilation_size = 2**i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            layers += [TemporalBlock(in_channels, num_channels[i], kernel_size, stride=1, dilation=dilation_size,
                                     dropout=dropout)]
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


# --- Inception-v3's factorised n x n (Szegedy et al. 2016, Fig. 6), stacked unevenly: r differs per axis ---
def asymmetric_stack() -> nn.Module:
    def conv(cin, cout, k, s=1, p=0):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=False), nn.BatchNorm2d(cout, eps=0.001),
                             nn.ReLU(inplace=True))
    return nn.Sequential(conv(3, 8, (1, 7), p=(0, 3)), conv(8, 8, (7, 1), p=(3, 0)),
                         conv(8, 8, (1, 7), s=(1, 2), p=(0, 3)), conv(8, 8, (3, 1), s=(2, 1)),
                         conv(8, 8, (1, 7), p=(0, 3)), conv(8, 8, (7, 1), p=(3, 0)), conv(8, 8, (1, 7), p=(0, 3)))


# --- PatchGAN, Isola et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix NLayerDiscriminator, spectral norm
#     on every conv as in Miyato et al. 2018 (torch.nn.utils.spectral_norm, the wrapper most code uses) ---
class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3):
        super().__init__()
        kw, padw = 4, 1
        sequence = [spectral_norm(nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw)),
                    nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2**n, 8)
            sequence += [spectral_norm(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2,
                                                 padding=padw)), nn.LeakyReLU(0.2, True)]
        nf_mult_prev, nf_mult = nf_mult, min(2**n_layers, 8)
        sequence += [spectral_norm(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1,
                                             padding=padw)), nn.LeakyReLU(0.2, True)]
        sequence += [spectral_norm(nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw))]
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)


# --- CycleGAN generator, Zhu et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix ResnetGenerator (instance norm) ---
class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True), nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, n_blocks=6):
        super().__init__()
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=True),
                 nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2**i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=True),
                      nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
        mult = 2**n_downsampling
        model += [ResnetBlock(ngf * mult) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=True),
                      nn.InstanceNorm2d(int(ngf * mult / 2)), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input):
        return self.model(input)


# --- ESPCN, Shi et al. 2016 (Sec. 3, l=3, (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3, tanh) ---
class ESPCN(nn.Module):
    def __init__(self, upscale_factor, num_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channels, 64, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(64, 32, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(32, num_channels * upscale_factor**2, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.pixel_shuffle(self.conv3(x))


# --- padding='same' with even kernels (torch pads the extra pixel on the right/bottom), between strided convs ---
def same_even() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 4, padding="same"), nn.GELU(), nn.Conv2d(8, 8, 3, stride=2),
                         nn.Conv2d(8, 8, (2, 6), padding="same", dilation=(3, 1)), nn.SiLU(),
                         nn.Conv2d(8, 8, 4, stride=2, padding=1), nn.Conv2d(8, 8, 2, padding="same"))


# --- decoder with nn.Upsample(mode="nearest") at non-integer scales, as in resize-convolution decoders
#     (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts") ---
def nearest_fractional() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                         nn.Upsample(scale_factor=1.5, mode="nearest"), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Upsample(scale_factor=(2.5, 1.25), mode="nearest"), nn.Conv2d(8, 4, 3, padding=1))


# --- squeeze-excitation, Hu et al. 2018; moskomule/senet.pytorch SELayer in a small SE-ResNet ---
class SELayer(nn.Module):
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channel, channel // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channel // reduction, channel, bias=False), nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SEBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = SELayer(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + residual)


def se_resnet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
                         SEBasicBlock(16, 16), SEBasicBlock(16, 32, 2), SEBasicBlock(32, 32), SEBasicBlock(32, 64, 2))


@dataclass(frozen=True)
class ForeignNet:
    """A network, its input size, and how many consecutive output units to measure."""

    name: str
    build: Callable[[], nn.Module]  # returns the module whose output is the measured map
    input_size: tuple[int, ...]
    window: int  # consecutive units measured (along each axis); >= period + 1 where interior is expected
    interior: bool  # the input leaves room for an interior window along some axis (part b)
    source: str


def _tv(name: str, **kwargs) -> nn.Module:
    return torchvision.models.get_model(name, weights=None, **kwargs)


def _timm(name: str, **kwargs) -> nn.Module:
    return timm.create_model(name, pretrained=False, **kwargs)


FOREIGN_NETS: list[ForeignNet] = [
    # torchvision segmentation: the "out" map at input resolution (bilinear resize to the input size)
    ForeignNet("lraspp_mobilenet_v3_large", lambda: _out(_tv("lraspp_mobilenet_v3_large", weights_backbone=None)),
               (1, 3, 801, 41), 3, False, "torchvision, Howard et al. 2019 (LR-ASPP)"),
    ForeignNet("deeplabv3_mobilenet_v3_large",
               lambda: _out(_tv("deeplabv3_mobilenet_v3_large", weights_backbone=None, aux_loss=False)),
               (1, 3, 1951, 9), 3, False, "torchvision, Chen et al. 2017 (DeepLabv3)"),
    ForeignNet("fcn_resnet50", lambda: _out(_tv("fcn_resnet50", weights_backbone=None, aux_loss=False)),
               (1, 3, 545, 9), 2, False, "torchvision, Long et al. 2015 (FCN) on a dilated ResNet-50"),
    # classifiers truncated before the global pooling
    ForeignNet("inception_v3", lambda: _children(_tv("inception_v3", aux_logits=False, init_weights=False),
                                                 "Mixed_7c"),
               (1, 3, 1407, 75), 2, True, "torchvision, Szegedy et al. 2016 (ends in the concat Mixed_7c)"),
    ForeignNet("inception_v3_wide", lambda: _children(_tv("inception_v3", aux_logits=False, init_weights=False),
                                                      "Mixed_7c"),
               (1, 3, 79, 1407), 2, True, "the same, wide: the w axis interior"),
    ForeignNet("regnet_y_400mf", lambda: _children(_tv("regnet_y_400mf"), "trunk_output"),
               (1, 3, 671, 9), 2, True, "torchvision, Radosavovic et al. 2020 (RegNetY, SE)"),
    ForeignNet("googlenet", lambda: _children(_tv("googlenet", aux_logits=False, init_weights=False), "inception5b"),
               (1, 3, 475, 15), 2, True, "torchvision, Szegedy et al. 2015 (concat, ceil-mode max pools)"),
    ForeignNet("densenet121", lambda: _tv("densenet121").features,
               (1, 3, 2167, 31), 2, True, "torchvision, Huang et al. 2017 (concat)"),
    ForeignNet("squeezenet1_1", lambda: _tv("squeezenet1_1").features,
               (1, 3, 271, 17), 2, True, "torchvision, Iandola et al. 2016 (fire concat, ceil-mode pools)"),
    ForeignNet("resnet18", lambda: _children(_tv("resnet18"), "layer4"),
               (1, 3, 531, 9), 2, True, "torchvision, He et al. 2016"),
    ForeignNet("mobilenet_v2", lambda: _tv("mobilenet_v2").features,
               (1, 3, 587, 9), 2, True, "torchvision, Sandler et al. 2018"),
    ForeignNet("shufflenet_v2_x0_5", lambda: _children(_tv("shufflenet_v2_x0_5"), "conv5"),
               (1, 3, 623, 9), 2, True, "torchvision, Ma et al. 2018 (channel split / shuffle)"),
    ForeignNet("vgg11", lambda: _tv("vgg11").features,
               (1, 3, 247, 33), 2, True, "torchvision, Simonyan & Zisserman 2015 (config A)"),
    ForeignNet("alexnet", lambda: _tv("alexnet").features,
               (1, 3, 291, 65), 2, True, "torchvision, Krizhevsky et al. 2012 (11x11 stride-4 stem)"),
    ForeignNet("mnasnet0_5", lambda: _tv("mnasnet0_5").layers,
               (1, 3, 939, 9), 2, True, "torchvision, Tan et al. 2019 (MnasNet, 5x5 depthwise)"),
    ForeignNet("resnest14d", lambda: _features(_timm("resnest14d")),
               (1, 3, 555, 9), 2, True, "timm, Zhang et al. 2020 (split attention, 3x3 avg-pool downsampling)"),
    # timm: TF "SAME" padding in forward, average-pool shortcuts, multi-resolution merges, aggregation trees
    ForeignNet("tf_efficientnet_b0", lambda: _features(_timm("tf_efficientnet_b0")),
               (1, 3, 947, 9), 2, True, "timm, Tan & Le 2019 (Conv2dSame pads in forward)"),
    ForeignNet("tf_efficientnet_b0_wide", lambda: _features(_timm("tf_efficientnet_b0")),
               (1, 3, 9, 947), 2, True, "the same, wide: SAME padding on the w axis"),
    ForeignNet("tf_mobilenetv3_small_100", lambda: _features(_timm("tf_mobilenetv3_small_100")),
               (1, 3, 735, 9), 2, True, "timm, Howard et al. 2019 (Conv2dSame, hard-swish, SE)"),
    ForeignNet("tf_mixnet_s", lambda: _features(_timm("tf_mixnet_s")),
               (1, 3, 1435, 9), 2, True, "timm, Tan & Le 2019 (MixConv kernels 3..9, SAME padding)"),
    ForeignNet("ghostnet_100", lambda: _features(_timm("ghostnet_100")),
               (1, 3, 1267, 9), 2, True, "timm, Han et al. 2020 (ghost modules: cheap depthwise half, SE)"),
    ForeignNet("convnext_atto", lambda: _features(_timm("convnext_atto")),
               (1, 3, 1231, 33), 2, True, "timm, Liu et al. 2022 (4x4 patchify stem, 7x7 depthwise, LayerNorm)"),
    ForeignNet("resnet50d", lambda: _features(_timm("resnet50d")),
               (1, 3, 527, 9), 2, True, "timm, He et al. 2019 (bag of tricks: deep stem, avg-pool shortcut)"),
    ForeignNet("hrnet_w18_small", lambda: _features(_timm("hrnet_w18_small")),
               (1, 3, 703, 31), 2, True, "timm, Wang et al. 2020 (HRNet: nearest-upsampled fusions)"),
    ForeignNet("dla34", lambda: _features(_timm("dla34")),
               (1, 3, 735, 31), 2, True, "timm, Yu et al. 2018 (deep layer aggregation)"),
    ForeignNet("skresnet18", lambda: _features(_timm("skresnet18")),
               (1, 3, 715, 9), 2, True, "timm, Li et al. 2019 (selective kernel: dilated 3x3 branch)"),
    # hand-written, as their authors write them
    ForeignNet("unet_bilinear", lambda: UNet(3, 2, bilinear=True, width=4),
               (1, 3, 301, 45), 4, False, "milesial/Pytorch-UNet (F.pad to the skip, align_corners=True)"),
    ForeignNet("unet_transposed", lambda: UNet(3, 2, bilinear=False, width=4),
               (1, 3, 301, 45), 17, True, "milesial/Pytorch-UNet with ConvTranspose2d"),
    ForeignNet("tcn", lambda: TemporalConvNet(2, [8, 8, 8, 8], kernel_size=3),
               (1, 2, 181), 3, True, "locuslab/TCN (weight norm, dilations 1..8, causal left padding)"),
    ForeignNet("asymmetric_1x7", asymmetric_stack,
               (1, 3, 41, 69), 3, True, "Szegedy et al. 2016 factorised 1x7 / 7x1 convolutions"),
    ForeignNet("patchgan_sn", lambda: NLayerDiscriminator(3, ndf=8),
               (1, 3, 131, 101), 3, True, "junyanz/pytorch-CycleGAN-and-pix2pix NLayerDiscriminator + spectral norm"),
    ForeignNet("cyclegan_generator", lambda: ResnetGenerator(3, 3, ngf=4, n_blocks=6),
               (1, 3, 231, 57), 5, True, "junyanz/pytorch-CycleGAN-and-pix2pix ResnetGenerator"),
    ForeignNet("espcn_x3", lambda: ESPCN(3), (1, 1, 23, 35), 4, True, "Shi et al. 2016 (ESPCN, pixel shuffle)"),
    ForeignNet("same_even_kernel", same_even, (1, 3, 53, 39), 3, True, "padding='same' with even kernels"),
    ForeignNet("nearest_fractional", nearest_fractional, (1, 3, 81, 63), 16, True,
               "nn.Upsample(mode='nearest') at scales 1.5 and (2.5, 1.25)"),
    ForeignNet("se_resnet", se_resnet, (1, 3, 61, 45), 2, True, "moskomule/senet.pytorch SELayer"),
]


def by_name(name: str) -> ForeignNet:
    return next(n for n in FOREIGN_NETS if n.name == name)
