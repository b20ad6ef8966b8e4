"""Rules for torch.nn's modules: the units inspect treats as leaves.

Costs follow :mod:`cnnlab.analysis.rules.conventions`; shapes and fields come from
:mod:`cnnlab.analysis.rules.geometry` (arith's formulas). A module's parameters are never read: a cost
needs only its hyper-parameters and the call's shapes.
"""

from __future__ import annotations

from math import prod

from torch import nn

from cnnlab.analysis.rules import saving
from cnnlab.analysis.rules.base import PASS, Call, Costs, Mixes, Rule, Saved, register_module_rule
from cnnlab.analysis.rules.conventions import OPS_PER_ELEMENT
from cnnlab.analysis.rules.geometry import (
    adaptive_field,
    conv_padding,
    interpolate_factors,
    interpolate_field,
    pad_field,
    per_axis,
    pixel_shuffle_field,
    pixel_unshuffle_field,
    transposed_shape,
    window_field,
    window_shape,
)
from cnnlab.arith.sampling import Transposed

__all__ = ["upsample_cost", "elementwise", "same_shape", "pool_window"]


def _bias(m: nn.Module, call: Call) -> dict[str, int]:
    return {"bias": call.out.numel()} if getattr(m, "bias", None) is not None else {}


def elementwise(kind: str, per: str | None = None):  # noqa: ANN201 - a cost function
    """Cost of ``OPS_PER_ELEMENT[per or kind]`` flops per output element, counted under ``kind``."""
    count = OPS_PER_ELEMENT[per or kind]

    def cost(call: Call) -> Costs:
        out = call.out
        return ({}, {kind: count * out.numel()}) if out is not None else ({}, {})

    return cost


def same_shape(call: Call) -> tuple[int, ...] | None:
    x = call.input
    return tuple(x.shape) if x is not None and len(call.args) == 1 and not call.kwargs else None


def _pass(call: Call) -> str:
    return PASS


# --- convolution -------------------------------------------------------------------------------
def _conv_geometry(m: nn.Module) -> tuple:
    n = len(m.kernel_size)
    k, s, d = per_axis(m.kernel_size, n), per_axis(m.stride, n), per_axis(m.dilation, n)
    return k, s, conv_padding(m.padding, k, d), d


def _conv_cost(call: Call) -> Costs:
    m = call.module
    return {"conv": call.out.numel() * (m.in_channels // m.groups) * prod(m.kernel_size)}, _bias(m, call)


def _conv_shape(call: Call) -> tuple[int, ...] | None:
    if len(call.args) != 1 or call.kwargs:
        return None
    k, s, pads, d = _conv_geometry(call.module)
    return window_shape(call.input, call.module.out_channels, k, s, pads, d)


def _conv_field(call: Call) -> object:
    k, s, pads, d = _conv_geometry(call.module)
    return window_field(k, s, pads, d, call.module.padding_mode)


def _transposed_cost(call: Call) -> Costs:
    m = call.module  # counted from input positions: every input pixel meets the whole kernel once
    return {"conv": call.input.numel() * (m.out_channels // m.groups) * prod(m.kernel_size)}, _bias(m, call)


def _transposed_geometry(m: nn.Module) -> tuple:
    n = len(m.kernel_size)
    return (per_axis(m.kernel_size, n), per_axis(m.stride, n), per_axis(m.padding, n), per_axis(m.dilation, n),
            per_axis(m.output_padding, n))


def _transposed_shape(call: Call) -> tuple[int, ...] | None:
    if len(call.args) != 1 or call.kwargs:  # an output_size argument picks output_padding at run time
        return None
    k, s, p, d, op = _transposed_geometry(call.module)
    return transposed_shape(call.input, call.module.out_channels, k, s, p, d, op)


def _transposed_field(call: Call) -> object:
    k, s, p, d, _ = _transposed_geometry(call.module)
    return tuple(Transposed(*g) for g in zip(k, s, p, d, strict=True))


# --- linear, attention -------------------------------------------------------------------------
def _linear_cost(call: Call) -> Costs:
    return {"linear": call.out.numel() * call.module.in_features}, _bias(call.module, call)


def _linear_shape(call: Call) -> tuple[int, ...] | None:
    x = call.input
    return (*x.shape[:-1], call.module.out_features) if len(call.args) == 1 and x.dim() >= 1 else None


def _bilinear_cost(call: Call) -> Costs:
    m = call.module
    return {"linear": call.out.numel() * m.in1_features * m.in2_features}, _bias(m, call)


def _mha_cost(call: Call) -> Costs:
    m, q = call.module, call.args[0]
    k = call.args[1] if len(call.args) > 1 else q
    e, heads = m.embed_dim, m.num_heads
    seq_axis = 0 if q.dim() == 2 or not m.batch_first else 1
    batch = 1 if q.dim() == 2 else q.shape[1 - seq_axis]
    len_q, len_k = q.shape[seq_axis], k.shape[seq_axis]
    projections = batch * (len_q * e * e + len_k * m.kdim * e + len_k * m.vdim * e + len_q * e * e)
    attention = batch * len_q * len_k * e * 2  # Q K^T and A V summed over heads (head_dim * heads = e)
    softmax = OPS_PER_ELEMENT["softmax"] * batch * heads * len_q * len_k
    return {"linear": projections, "attention": attention}, {"softmax": softmax}


# --- norms, activations ------------------------------------------------------------------------
def _norm_cost(call: Call) -> Costs:
    m = call.module
    affine = getattr(m, "elementwise_affine", getattr(m, "affine", False))
    return {}, {"norm": OPS_PER_ELEMENT["norm_affine" if affine else "norm_plain"] * call.out.numel()}


def _norm_field(call: Call) -> object:
    """Normalisation statistics over spatial positions are global context; the rest is element-wise."""
    m, x = call.module, call.input
    if isinstance(m, (nn.LayerNorm, nn.RMSNorm)):
        shape = (m.normalized_shape,) if isinstance(m.normalized_shape, int) else tuple(m.normalized_shape)
        return Mixes(tuple(range(-len(shape), 0)))
    if isinstance(m, nn.GroupNorm):
        return Mixes(tuple(range(2, x.dim())))
    if isinstance(m, nn.modules.instancenorm._InstanceNorm):
        spatial = int(type(m).__name__[-2])  # InstanceNorm1d / 2d / 3d
        return Mixes(tuple(range(-spatial, 0)))
    return PASS


def _softmax_field(call: Call) -> object:
    m = call.module
    if isinstance(m, nn.Softmax2d):
        return Mixes((-3,))
    return Mixes((m.dim,)) if getattr(m, "dim", None) is not None else PASS


# --- pooling, resampling, padding --------------------------------------------------------------
def pool_window(m: nn.Module) -> tuple[tuple[int, ...], ...]:
    """``(kernel, stride, padding, dilation)`` of a pooling module per axis; no stride means the kernel."""
    n = 3 if "3d" in type(m).__name__ else 1 if "1d" in type(m).__name__ else 2
    k = per_axis(m.kernel_size, n)
    s = per_axis(m.stride if m.stride not in (None, (), []) else m.kernel_size, n)
    return k, s, per_axis(getattr(m, "padding", 0), n), per_axis(getattr(m, "dilation", 1), n)


def _pool_cost(call: Call) -> Costs:
    return {}, {"pool": prod(pool_window(call.module)[0]) * call.out.numel()}


def _pool_shape(call: Call) -> tuple[int, ...] | None:
    m, x = call.module, call.input
    if len(call.args) != 1 or getattr(m, "return_indices", False):
        return None
    k, s, p, d = pool_window(m)
    return window_shape(x, x.shape[-len(k) - 1] if x.dim() > len(k) else 0, k, s, tuple((v, v) for v in p), d,
                        pool=True, ceil_mode=m.ceil_mode)


def _pool_field(call: Call) -> object:
    k, s, p, d = pool_window(call.module)
    return window_field(k, s, tuple((v, v) for v in p), d)


def _adaptive_cost(call: Call) -> Costs:
    return {}, {"pool": call.input.numel()}


def _adaptive_field(call: Call) -> object:
    return adaptive_field(call.input, call.out)


def upsample_cost(mode: str, call: Call) -> Costs:
    per = {"bilinear": 4, "bicubic": 16, "linear": 2, "trilinear": 8}.get(mode, 0)
    return {}, ({"upsample": per * call.out.numel()} if per else {})


def _upsample_field(call: Call) -> object:
    m = call.module
    factors = interpolate_factors(m.scale_factor, m.recompute_scale_factor, call.out.dim() - 2)
    return interpolate_field(call.input, call.out, m.mode, factors, m.align_corners)


def _pad_field(call: Call) -> object:
    m = call.module
    name = type(m).__name__
    mode = ("reflect" if "Reflection" in name else "replicate" if "Replication" in name
            else "circular" if "Circular" in name else "constant")
    return pad_field(tuple(m.padding), mode, len(m.padding) // 2)


def _pixel_shuffle_field(call: Call) -> object:
    return pixel_shuffle_field(call.module.upscale_factor)


def _pixel_unshuffle_field(call: Call) -> object:
    return pixel_unshuffle_field(call.module.downscale_factor)


def _norm_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    m = call.module
    if isinstance(m, nn.LayerNorm):
        shape = (m.normalized_shape,) if isinstance(m.normalized_shape, int) else tuple(m.normalized_shape)
        return saving.layer_norm(len(shape))(call, needs)
    if isinstance(m, nn.GroupNorm):
        return saving.group_norm(m.num_groups)(call, needs)
    if isinstance(m, nn.modules.instancenorm._InstanceNorm):  # batch norm over (1, N*C, ...)
        return Saved((0,), extra_bytes=2 * call.input.shape[:-int(type(m).__name__[-2])].numel() * saving.STATS_BYTES)
    return Saved((0,))


def _dropout_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    return saving.dropout(per_channel=not isinstance(call.module, nn.Dropout))(call, needs)


def _adaptive_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    """Average pooling to one value per channel is a mean (nothing kept); max pooling keeps indices."""
    if isinstance(call.module, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        return saving.max_pool(call, needs)
    return Saved() if all(int(v) == 1 for v in call.out.shape[2:]) else Saved((0,))


def _pool_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    max_pool = isinstance(call.module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d))
    return saving.max_pool(call, needs) if max_pool else Saved((0,))


def _pad_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    name = type(call.module).__name__
    return Saved((0,)) if "Reflection" in name or "Replication" in name else Saved()


_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
          nn.LocalResponseNorm, nn.RMSNorm)
_OUTPUT_ACTS = (nn.ReLU, nn.Sigmoid, nn.Tanh)  # autograd keeps the result of these
_ACTS = (nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
         nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid, nn.Threshold,
         nn.Hardshrink, nn.Softshrink)
_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
_PADS = (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
         nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d, nn.ReplicationPad1d, nn.ReplicationPad2d,
         nn.ReplicationPad3d, nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d)
_KEEP_POSITIONS = (nn.Identity, nn.AlphaDropout, nn.FeatureAlphaDropout, nn.ChannelShuffle)

_CONV = Rule("conv", _conv_cost, _conv_field, _conv_shape, saved=saving.input_)
_TRANSPOSED = Rule("conv", _transposed_cost, _transposed_field, _transposed_shape, saved=saving.input_)
_POOL = Rule("pool", _pool_cost, _pool_field, _pool_shape, saved=_pool_saved)
_ADAPTIVE = Rule("pool", _adaptive_cost, _adaptive_field, saved=_adaptive_saved)
_ELEMENTWISE_BN = Rule("norm", elementwise("norm", "batchnorm"), _pass, same_shape, saved=saving.batch_norm)
_NORM = Rule("norm", _norm_cost, _norm_field, same_shape, saved=_norm_saved)
_ACT = Rule("act", elementwise("act"), _pass, same_shape, saved=saving.activation_input)
_OUTPUT_ACT = Rule("act", elementwise("act"), _pass, same_shape, saved=saving.output)
_SOFTMAX = Rule("softmax", elementwise("softmax"), _softmax_field, same_shape, saved=saving.output)
_SHAPE = Rule("shape", field=_pass, shape=same_shape, saved=saving.nothing)
_RESHAPE = Rule("shape", saved=saving.nothing)

_BUILT_IN: tuple[tuple[tuple[type, ...], Rule], ...] = (
    ((nn.Conv1d, nn.Conv2d, nn.Conv3d), _CONV),
    ((nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d), _TRANSPOSED),
    ((nn.Linear,), Rule("linear", _linear_cost, lambda call: Mixes((-1,), local=False), _linear_shape,
                        saved=saving.input_)),
    ((nn.Bilinear,), Rule("linear", _bilinear_cost, saved=lambda call, needs: Saved((0, 1)))),
    ((nn.MultiheadAttention,), Rule("attention", _mha_cost)),
    ((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm), _ELEMENTWISE_BN),
    (_NORMS, _NORM),
    (_OUTPUT_ACTS, _OUTPUT_ACT),
    (_ACTS, _ACT),
    ((nn.GLU,), Rule("act", elementwise("act"), saved=saving.input_)),
    ((nn.Softmax, nn.LogSoftmax, nn.Softmax2d), _SOFTMAX),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.LPPool1d,
      nn.LPPool2d, nn.LPPool3d), _POOL),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
      nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), _ADAPTIVE),
    ((nn.Upsample,), Rule("upsample", lambda call: upsample_cost(call.module.mode, call), _upsample_field,
                          saved=saving.nothing)),
    (_PADS, Rule("pad", field=_pad_field, saved=_pad_saved)),
    ((nn.PixelShuffle,), Rule("shape", field=_pixel_shuffle_field, saved=saving.nothing)),
    ((nn.PixelUnshuffle,), Rule("shape", field=_pixel_unshuffle_field, saved=saving.nothing)),
    (_DROPOUTS, Rule("dropout", field=_pass, shape=same_shape, saved=_dropout_saved)),
    (_KEEP_POSITIONS, _SHAPE),
    ((nn.Flatten, nn.Unflatten, nn.Embedding), _RESHAPE),
)

for _types, _rule in _BUILT_IN:
    for _t in _types:
        register_module_rule(_t, _rule)
