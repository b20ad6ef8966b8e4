"""Rules for aten ops: what inspect reads when it walks a call op by op (an op with no rule of its own, a
module whose forward is not torch's, any model fx cannot trace).

Same conventions as the module and function rules; the geometry (padding inside a forward, TF-"SAME"
convolutions, interpolation) comes from the aten op's own arguments, so nothing is lost inside a module
cnnlab does not know. Keyed by the op's name (``torch.ops.aten.<name>``).
"""

from __future__ import annotations

from math import prod

from cnnlab.analysis.rules import saving
from cnnlab.analysis.rules.base import PASS, Call, Concat, Costs, Mixes, Permute, Rule, Saved
from cnnlab.analysis.rules.conventions import OPS_PER_ELEMENT
from cnnlab.analysis.rules.geometry import (
    adaptive_field,
    interpolate_field,
    pad_field,
    per_axis,
    window_field,
)
from cnnlab.analysis.rules.modules import elementwise, upsample_cost
from cnnlab.arith.sampling import Flip, Pad, PixelShuffle, Slice, Transposed, Window

__all__ = ["ATEN_RULES", "aten_rule"]


def _pass(call: Call) -> str:
    return PASS


def _matmul(first: int) -> Rule:
    return Rule("matmul", lambda call: ({"matmul": call.out.numel() * call.args[first].shape[-1]}, {}),
                saved=saving.operands(first))


def _convolution_cost(call: Call) -> Costs:
    x, w, bias, transposed = call.args[0], call.args[1], call.args[2], call.args[6]
    positions = x.numel() if transposed else call.out.numel()
    return {"conv": positions * w[0].numel()}, ({"bias": call.out.numel()} if bias is not None else {})


def _convolution_field(call: Call) -> object:
    w = call.args[1]
    n = w.dim() - 2
    k = tuple(int(v) for v in w.shape[2:])
    s, p, d = (per_axis(call.args[i], n) for i in (3, 4, 5))
    if call.args[6]:
        return tuple(Transposed(*g) for g in zip(k, s, p, d, strict=True))
    return window_field(k, s, tuple((v, v) for v in p), d)


def _sdpa_cost(call: Call) -> Costs:
    q, k, v = call.args[0], call.args[1], call.args[2]
    pairs = q.numel() // q.shape[-1] * k.shape[-2]
    return {"attention": pairs * (q.shape[-1] + v.shape[-1])}, {"softmax": OPS_PER_ELEMENT["softmax"] * pairs}


def _pool(dilation: bool) -> Rule:
    def geometry(call: Call) -> tuple:
        n = call.args[0].dim() - 2
        k = per_axis(call.args[1], n)
        s = per_axis(call.args[2], n) if len(call.args) > 2 and call.args[2] not in (None, [], ()) else k
        p = per_axis(call.args[3], n) if len(call.args) > 3 else (0,) * n
        d = per_axis(call.args[4], n) if dilation and len(call.args) > 4 else (1,) * n
        return k, s, tuple((v, v) for v in p), d

    def cost(call: Call) -> Costs:
        return {}, {"pool": prod(geometry(call)[0]) * call.out.numel()}

    return Rule("pool", cost, lambda call: window_field(*geometry(call)),
                saved=saving.max_pool if dilation else saving.input_)


def _upsample(mode: str, align_index: int | None, scales_from: int) -> Rule:
    def field(call: Call) -> object:
        n = call.args[0].dim() - 2
        names = ("scales",) if n == 1 else tuple(f"scales_{axis}" for axis in "dhw"[3 - n:])
        scales = tuple(call.arg(scales_from + i, names[i]) for i in range(n))
        align = call.arg(align_index, "align_corners") if align_index is not None else False
        return interpolate_field(call.args[0], call.out, mode, scales, align)

    return Rule("upsample", lambda call: upsample_cost(mode, call), field, saved=saving.nothing)


def _pad(mode: str) -> Rule:
    return Rule("pad", field=lambda call: pad_field(tuple(call.args[1]), mode, call.args[0].dim()),
                saved=saving.nothing if mode == "constant" else saving.input_)


def _slice_field(call: Call) -> object:
    x = call.args[0]
    dim = call.args[1] if len(call.args) > 1 else 0
    size = int(x.shape[dim])
    start = call.args[2] if len(call.args) > 2 and call.args[2] is not None else 0
    step = call.args[4] if len(call.args) > 4 else 1
    start = min(max(start + size if start < 0 else start, 0), size)
    per: list = [None] * x.dim()
    per[dim] = Slice(int(start), int(step)) if (start, step) != (0, 1) else None
    return tuple(per)


def _dims_rule(make) -> Rule:  # noqa: ANN001
    def field(call: Call) -> object:
        x = call.args[0]
        per: list = [None] * x.dim()
        for d, op in make(call):
            per[d] = op
        return tuple(per)

    return Rule("shape", field=field)


def _permute(call: Call) -> object:
    n = call.args[0].dim()
    return Permute(tuple(int(d) % n for d in call.args[1]))


def _transpose(call: Call) -> object:
    n = call.args[0].dim()
    order = list(range(n))
    a, b = int(call.args[1]) % n, int(call.args[2]) % n
    order[a], order[b] = order[b], order[a]
    return Permute(tuple(order))


def _mixes_dim(index: int) -> object:
    return lambda call: Mixes((int(call.args[index]),))


def _layer_norm_field(call: Call) -> object:
    return Mixes(tuple(range(-len(call.args[1]), 0)))


def _group_norm_field(call: Call) -> object:
    return Mixes(tuple(range(2, call.args[0].dim())))


def _norm_cost(weight_index: int, affine: str, plain: str):  # noqa: ANN202
    def cost(call: Call) -> Costs:
        has = len(call.args) > weight_index and call.args[weight_index] is not None
        return {}, {"norm": OPS_PER_ELEMENT[affine if has else plain] * call.out.numel()}

    return cost


def _reduce_cost(call: Call) -> Costs:
    return {}, {"reduce": call.args[0].numel()}


_ADD = Rule("add", elementwise("add"), _pass, saved=saving.nothing)
_ACT = Rule("act", elementwise("act"), _pass, saved=saving.activation_input)
_SHAPE = Rule("shape", saved=saving.nothing)
_BATCH_NORM = Rule("norm", _norm_cost(1, "batchnorm", "batchnorm"), _pass, saved=saving.batch_norm)

ATEN_RULES: dict[str, Rule] = {
    **dict.fromkeys(("add", "sub", "rsub", "neg"), _ADD),
    "mul": Rule("mul", elementwise("mul"), _pass, saved=saving.operands(0)),
    "div": Rule("mul", elementwise("mul"), _pass, saved=saving.quotient),
    **dict.fromkeys(("relu", "sigmoid", "tanh", "exp", "sqrt", "rsqrt"),
                    Rule("act", elementwise("act"), _pass, saved=saving.output)),
    **dict.fromkeys(("gelu", "silu", "hardswish", "hardsigmoid", "hardtanh", "leaky_relu", "elu", "mish", "softplus",
                     "pow", "clamp", "clamp_min", "clamp_max", "abs", "log", "erf", "prelu", "_prelu_kernel"), _ACT),
    **dict.fromkeys(("_softmax", "_log_softmax"),
                    Rule("softmax", elementwise("softmax"), _mixes_dim(1), saved=saving.output)),
    **dict.fromkeys(("mm", "bmm"), _matmul(0)),
    **dict.fromkeys(("addmm", "baddbmm"), _matmul(1)),
    "convolution": Rule("conv", _convolution_cost, _convolution_field, saved=saving.input_),
    **dict.fromkeys(("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
                     "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
                     "_scaled_dot_product_attention_math", "scaled_dot_product_attention"), Rule("attention", _sdpa_cost)),
    **dict.fromkeys(("max_pool2d_with_indices", "max_pool3d_with_indices", "max_pool1d", "max_pool2d",
                     "max_pool3d"), _pool(dilation=True)),
    **dict.fromkeys(("avg_pool1d", "avg_pool2d", "avg_pool3d"), _pool(dilation=False)),
    **dict.fromkeys(("_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_max_pool2d", "adaptive_max_pool3d",
                     "adaptive_max_pool1d"),
                    Rule("pool", lambda call: ({}, {"pool": call.args[0].numel()}),
                         lambda call: adaptive_field(call.args[0], call.out),
                         saved=lambda call, needs: saving.max_pool(call, needs) if "max" in str(call.target)
                         else Saved((0,)))),
    "upsample_nearest1d": _upsample("nearest", None, 2), "upsample_nearest2d": _upsample("nearest", None, 2),
    "upsample_nearest3d": _upsample("nearest", None, 2),
    "_upsample_nearest_exact1d": _upsample("nearest-exact", None, 2),
    "_upsample_nearest_exact2d": _upsample("nearest-exact", None, 2),
    "_upsample_nearest_exact3d": _upsample("nearest-exact", None, 2),
    "upsample_linear1d": _upsample("linear", 2, 3), "upsample_bilinear2d": _upsample("bilinear", 2, 3),
    "upsample_trilinear3d": _upsample("trilinear", 2, 3), "upsample_bicubic2d": _upsample("bicubic", 2, 3),
    **dict.fromkeys(("_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa"),
                    Rule("upsample", lambda call: upsample_cost("bilinear", call))),
    "constant_pad_nd": _pad("constant"),
    **dict.fromkeys(("reflection_pad1d", "reflection_pad2d", "reflection_pad3d"), _pad("reflect")),
    **dict.fromkeys(("replication_pad1d", "replication_pad2d", "replication_pad3d"), _pad("replicate")),
    "slice": Rule("shape", field=_slice_field),
    "cat": Rule("shape", field=lambda call: Concat(
        int(call.args[1]) - call.args[0][0].dim() if len(call.args) > 1 and call.args[1] >= 0
        else int(call.args[1]) if len(call.args) > 1 else -call.args[0][0].dim())),
    "permute": Rule("shape", field=_permute),
    "transpose": Rule("shape", field=_transpose),
    "flip": _dims_rule(lambda call: [(d, Flip()) for d in call.args[1]]),
    "roll": _dims_rule(lambda call: [(d, Pad(int(s), "circular")) for s, d in zip(call.args[1], call.args[2],
                                                                                  strict=True)]),
    "pixel_shuffle": _dims_rule(lambda call: [(-2, PixelShuffle(int(call.args[1]))),
                                              (-1, PixelShuffle(int(call.args[1])))]),
    "pixel_unshuffle": _dims_rule(lambda call: [(-2, Window(int(call.args[1]), int(call.args[1]))),
                                                (-1, Window(int(call.args[1]), int(call.args[1])))]),
    **dict.fromkeys(("mean", "sum"), Rule("reduce", _reduce_cost, saved=saving.nothing)),
    **dict.fromkeys(("amax", "var"), Rule("reduce", _reduce_cost)),
    "native_layer_norm": Rule("norm", _norm_cost(2, "norm_affine", "norm_plain"), _layer_norm_field,
                              saved=lambda call, needs: saving.layer_norm(len(call.args[1]))(call, needs)),
    "native_group_norm": Rule("norm", _norm_cost(1, "norm_affine", "norm_plain"), _group_norm_field,
                              saved=lambda call, needs: saving.group_norm(int(call.args[6]))(call, needs)),
    **dict.fromkeys(("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                     "_batch_norm_with_update", "_batch_norm_no_update", "batch_norm"), _BATCH_NORM),
    **dict.fromkeys((
        "view", "_unsafe_view", "reshape", "expand", "clone", "contiguous", "select", "index", "stack", "split",
        "split_with_sizes", "unsqueeze", "squeeze", "new_zeros", "new_ones", "new_empty", "new_full", "zeros", "ones",
        "empty", "full", "arange", "copy_", "copy", "fill_", "fill", "zero_", "masked_fill", "detach", "alias",
        "_to_copy", "lift_fresh", "lift_fresh_copy", "unbind", "gather", "index_select", "repeat", "expand_as",
        "view_as", "_reshape_alias", "as_strided", "scalar_tensor", "empty_like", "zeros_like", "ones_like", "where",
        "native_dropout", "dropout", "unfold", "sym_size", "_local_scalar_dense", "item", "diagonal", "tril",
        "triu", "eq", "ne", "lt", "gt", "le", "ge", "t", "empty_strided", "bernoulli", "rand", "randn", "uniform",
        "normal", "channel_shuffle", "native_channel_shuffle", "to", "type_as", "logical_and", "logical_or",
        "bitwise_and", "_assert_async", "_assert_tensor_metadata", "sym_numel", "sym_stride",
    ), _SHAPE),
}


def aten_rule(name: str) -> Rule | None:
    return ATEN_RULES.get(name)
