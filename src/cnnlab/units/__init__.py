"""Single operations as nn.Modules: what torch lacks, built from what torch has."""

from cnnlab.units.conv_norm_act import ConvNormAct, LayerFactory, check_conv_args  # noqa: F401
