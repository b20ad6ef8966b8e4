"""Single operations as nn.Modules: what torch lacks, built from what torch has."""

from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory, check_conv_args  # noqa: F401
from cnnlab.units.deform import DeformConv2d, deform_conv2d  # noqa: F401
from cnnlab.units.drop_path import DropPath, drop_path  # noqa: F401
from cnnlab.units.separable import DepthwiseSeparableConv, depthwise, pointwise  # noqa: F401
from cnnlab.units.shuffle import ChannelShuffle, channel_shuffle  # noqa: F401
from cnnlab.units.upsample import (  # noqa: F401
    UPSAMPLE_MODES,
    LearnedUpsample,
    Upsample,
    bilinear_kernel,
    upsample,
)
