"""Building blocks of the lecture's networks, each citing the paper figure it implements.

Uniform signature: ``Block(in_channels, out_channels, stride, *own knobs, norm_layer=..., act_layer=...)``.
"""

from cnnlab.blocks.inception import InceptionBlock
from cnnlab.blocks.mobilenet import DepthwiseSeparableBlock, InvertedResidual
from cnnlab.blocks.resnet import BasicBlock, Bottleneck
from cnnlab.blocks.resnext import ResNeXtBlock
from cnnlab.blocks.shufflenet import ShuffleUnit
from cnnlab.blocks.vgg import VGGBlock

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "DepthwiseSeparableBlock",
    "InceptionBlock",
    "InvertedResidual",
    "ResNeXtBlock",
    "ShuffleUnit",
    "VGGBlock",
]
