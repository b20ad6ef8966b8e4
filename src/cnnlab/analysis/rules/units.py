"""Rules for cnnlab's own units that torch lacks, written with the public registry as any user would.

This is the example docs/analysis.md shows: a deformable convolution (Dai et al. 2017; Zhu et al. 2019)
counted as its main convolution, its offset (and mask) predictors and its bilinear sampling, with the
receptive field of the regular grid it deforms.
"""

from __future__ import annotations

from math import prod

from cnnlab.analysis.rules.base import Call, Costs, Rule, register_module_rule
from cnnlab.analysis.rules.geometry import conv_padding, per_axis, window_field, window_shape
from cnnlab.units.deform import DeformConv2d

__all__ = ["DEFORM_CONV_RULE"]


def _geometry(m: DeformConv2d) -> tuple:
    k, s, d = per_axis(m.kernel_size, 2), per_axis(m.stride, 2), per_axis(m.dilation, 2)
    return k, s, conv_padding(m.padding, k, d), d


def _deform_cost(call: Call) -> Costs:
    m, out = call.module, call.out
    positions = out.numel() // m.out_channels  # N * H_out * W_out
    taps = prod(m.kernel_size)
    predicted = 2 * m.offset_groups * taps + (m.offset_groups * taps if m.modulated else 0)
    macs = {"conv": out.numel() * (m.in_channels // m.groups) * taps  # the main kernel on the sampled columns
            + positions * predicted * m.in_channels * taps}  # offset (and mask) predictors: plain convs
    samples = positions * m.in_channels * taps  # every input value read at a fractional position
    ops = {"sample": 4 * samples + (samples if m.modulated else 0),  # bilinear: 4 per sample; v2 mask: 1
           "bias": out.numel() * (m.bias is not None) + positions * predicted}
    if m.modulated:
        ops["act"] = positions * m.offset_groups * taps  # the mask's sigmoid
    return macs, ops


DEFORM_CONV_RULE = Rule(
    "conv", _deform_cost,
    field=lambda call: window_field(*_geometry(call.module)),
    shape=lambda call: window_shape(call.input, call.module.out_channels, *_geometry(call.module)),
    note="deformable: learned offsets move the samples, so the true field depends on the data; "
         "the field shown is the regular grid's",
)

register_module_rule(DeformConv2d, DEFORM_CONV_RULE)
