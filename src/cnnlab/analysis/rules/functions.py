"""Rules for the functions and tensor methods met in a traced graph (``F.conv2d``, ``torch.cat``, ``x.add_``).

Keyed by the function object of a ``call_function`` node, or by the method name of a ``call_method`` node.
Ops registered as ``shape`` cost nothing (views, concatenation, padding, dropout in inference); ``VIEWS``
share storage with their input (for the liveness pass). A function with no rule is walked op by op at aten
level (:mod:`cnnlab.analysis.walk.aten`), so its matmuls are still counted and its field still mapped.
"""

from __future__ import annotations

import operator
from math import prod

import torch
import torch.nn.functional as F

from cnnlab.analysis.rules import saving
from cnnlab.analysis.rules.base import (
    END,
    PASS,
    Call,
    Concat,
    Costs,
    Mixes,
    Permute,
    Rule,
    Saved,
    register_function_rule,
)
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
    window_field,
    window_shape,
)
from cnnlab.analysis.rules.modules import elementwise, upsample_cost
from cnnlab.arith.sampling import Flip, Pad, Slice, Transposed

__all__ = ["VIEW_FUNCTIONS", "VIEW_METHODS", "ELEMENTWISE_KINDS"]

ELEMENTWISE_KINDS = ("add", "mul")  # broadcasting binary ops: their output shape is computed without torch


def _pass(call: Call) -> str:
    return PASS


def _broadcast_shape(call: Call) -> tuple[int, ...] | None:
    """Output shape of a broadcasting binary op (add, mul ...) without running torch's meta kernel."""
    if call.kwargs or not all(isinstance(a, (torch.Tensor, int, float)) for a in call.args):
        return None
    tensors = [a for a in call.args if isinstance(a, torch.Tensor)]
    if not tensors or len(call.args) >= 2 and torch.result_type(call.args[0], call.args[1]) != tensors[0].dtype:
        return None
    return tuple(torch.broadcast_shapes(*(t.shape for t in tensors)))


def _matmul_cost(first: int):  # noqa: ANN202
    def cost(call: Call) -> Costs:
        return {"matmul": call.out.numel() * call.args[first].shape[-1]}, {}

    return cost


def _einsum_cost(call: Call) -> Costs:
    """MACs = output elements x the sizes of the contracted (summed) indices."""
    equation = call.args[0].replace(" ", "")
    operands = call.args[1] if len(call.args) == 2 and isinstance(call.args[1], (list, tuple)) else call.args[1:]
    inputs, _, output = equation.partition("->")
    sizes: dict[str, int] = {}
    for letters, t in zip(inputs.split(","), operands, strict=False):
        for letter, size in zip(reversed(letters.replace("...", "")), reversed(t.shape), strict=False):
            sizes[letter] = int(size)
    if len(operands) < 2:
        return {}, {"reduce": operands[0].numel()}
    return {"matmul": call.out.numel() * prod(s for letter, s in sizes.items() if letter not in output)}, {}


def _weight(call: Call) -> torch.Tensor:
    return call.arg(1, "weight")


def _with_bias(call: Call, macs: dict[str, int], index: int = 2) -> Costs:
    return macs, ({"bias": call.out.numel()} if call.arg(index, "bias") is not None else {})


def _linear_cost(call: Call) -> Costs:
    return _with_bias(call, {"linear": call.out.numel() * _weight(call).shape[-1]})


def _sdpa_cost(call: Call) -> Costs:
    q, k, v = call.args[0], call.args[1], call.args[2]
    pairs = q.numel() // q.shape[-1] * k.shape[-2]  # batch * heads * L_q * L_k
    return {"attention": pairs * (q.shape[-1] + v.shape[-1])}, {"softmax": OPS_PER_ELEMENT["softmax"] * pairs}


# --- convolution ---------------------------------------------------------------------------------
def _conv_geometry(call: Call) -> tuple:
    w = _weight(call)
    n = w.dim() - 2
    k, s, d = tuple(int(v) for v in w.shape[2:]), per_axis(call.arg(3, "stride", 1), n), \
        per_axis(call.arg(5, "dilation", 1), n)
    return k, s, conv_padding(call.arg(4, "padding", 0), k, d), d


def _conv_cost(call: Call) -> Costs:
    return _with_bias(call, {"conv": call.out.numel() * _weight(call)[0].numel()})


def _conv_shape(call: Call) -> tuple[int, ...] | None:
    k, s, pads, d = _conv_geometry(call)
    return window_shape(call.input, int(_weight(call).shape[0]), k, s, pads, d)


def _conv_field(call: Call) -> object:
    return window_field(*_conv_geometry(call))


def _transposed_cost(call: Call) -> Costs:
    return _with_bias(call, {"conv": call.input.numel() * _weight(call)[0].numel()})


def _transposed_field(call: Call) -> object:
    w = _weight(call)
    n = w.dim() - 2
    k, s = tuple(int(v) for v in w.shape[2:]), per_axis(call.arg(3, "stride", 1), n)
    p, d = per_axis(call.arg(4, "padding", 0), n), per_axis(call.arg(7, "dilation", 1), n)
    return tuple(Transposed(*g) for g in zip(k, s, p, d, strict=True))


# --- pooling -------------------------------------------------------------------------------------
def _pool_geometry(call: Call, dilation_index: int | None) -> tuple:
    x = call.input
    n = max(1, x.dim() - 2)
    k = per_axis(call.arg(1, "kernel_size"), n)
    stride = call.arg(2, "stride")
    s = per_axis(stride, n) if stride not in (None, [], ()) else k
    p = per_axis(call.arg(3, "padding", 0), n)
    d = per_axis(call.arg(dilation_index, "dilation", 1), n) if dilation_index else (1,) * n
    return k, s, tuple((v, v) for v in p), d


def _pool_rule(dilation_index: int | None, ceil_index: int) -> Rule:
    def cost(call: Call) -> Costs:
        return {}, {"pool": prod(_pool_geometry(call, dilation_index)[0]) * call.out.numel()}

    def field(call: Call) -> object:
        return window_field(*_pool_geometry(call, dilation_index))

    def shape(call: Call) -> tuple[int, ...] | None:
        if dilation_index is not None and call.arg(ceil_index + 1, "return_indices", False):
            return None
        x = call.input
        k, s, p, d = _pool_geometry(call, dilation_index)
        return window_shape(x, x.shape[-len(k) - 1], k, s, p, d, pool=True,
                            ceil_mode=bool(call.arg(ceil_index, "ceil_mode", False)))

    return Rule("pool", cost, field, shape, saved=saving.max_pool if dilation_index is not None else saving.input_)


def _adaptive_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    return Saved() if all(int(v) == 1 for v in call.out.shape[2:]) else Saved((0,))


def _adaptive_cost(call: Call) -> Costs:
    return {}, {"pool": call.input.numel()}


def _adaptive_field(call: Call) -> object:
    return adaptive_field(call.input, call.out)


# --- resampling, padding, slicing ----------------------------------------------------------------
def _interpolate_rule(align_corners: bool | None = None, mode: str | None = None) -> Rule:
    def mode_of(call: Call) -> str:
        return mode or str(call.arg(3, "mode", "nearest"))

    def field(call: Call) -> object:
        if mode is None and call.arg(6, "antialias", False):
            return None  # antialiased resizing reads a scale-dependent neighbourhood: shapes decide
        align = align_corners if align_corners is not None else call.arg(4, "align_corners")
        recompute = call.arg(5, "recompute_scale_factor") if mode is None else None
        factors = interpolate_factors(call.arg(2, "scale_factor"), recompute, call.out.dim() - 2)
        return interpolate_field(call.input, call.out, mode_of(call), factors, align)

    return Rule("upsample", lambda call: upsample_cost(mode_of(call), call), field, saved=saving.nothing)


def _pad_saved(call: Call, needs: tuple[bool, ...]) -> Saved:
    return Saved((0,)) if call.arg(2, "mode", "constant") in ("reflect", "replicate") else Saved()


def _pad_field(call: Call) -> object:
    pads = call.arg(1, "pad")
    field = pad_field(tuple(pads), str(call.arg(2, "mode", "constant")), call.input.dim())
    return field if field is not None else None


def _getitem_field(call: Call) -> object:
    """``x[:, :, a:b, ::s]``: slices of the spatial dims move the grid; ints or None change the dims (left to shapes)."""
    x, index = call.args[0], call.args[1]
    if not isinstance(x, torch.Tensor):
        return None
    index = index if isinstance(index, tuple) else (index,)
    if any(not isinstance(i, (slice, type(Ellipsis))) for i in index) or sum(i is Ellipsis for i in index) > 1:
        return None
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (x.dim() - len(index) + 1) + index[at + 1:]
    index = index + (slice(None),) * (x.dim() - len(index))
    per = []
    for size, sl in zip(x.shape, index, strict=True):
        start, _, step = sl.indices(int(size))
        per.append(None if (start, step) == (0, 1) else Slice(start, step))
    return tuple(per)


def _narrow_field(call: Call) -> object:
    x, dim, start = call.args[0], call.arg(1, "dim"), call.arg(2, "start")
    per: list = [None] * x.dim()
    per[dim] = Slice(int(start) % int(x.shape[dim]) if start < 0 else int(start), 1)
    return tuple(per)


def _permute_field(call: Call) -> object:
    x = call.args[0]
    dims = call.args[1:] if len(call.args) > 2 or isinstance(call.arg(1, "dims"), int) else call.arg(1, "dims")
    return Permute(tuple(int(d) % x.dim() for d in dims))


def _transpose_field(call: Call) -> object:
    x = call.args[0]
    order = list(range(x.dim()))
    a, b = int(call.arg(1, "dim0")) % x.dim(), int(call.arg(2, "dim1")) % x.dim()
    order[a], order[b] = order[b], order[a]
    return Permute(tuple(order))


def _movedim_field(call: Call) -> object:
    x = call.args[0]
    src, dst = call.arg(1, "source"), call.arg(2, "destination")
    src = [int(s) % x.dim() for s in (src if isinstance(src, (tuple, list)) else (src,))]
    dst = [int(d) % x.dim() for d in (dst if isinstance(dst, (tuple, list)) else (dst,))]
    order: list = [None] * x.dim()
    for s, d in zip(src, dst, strict=True):
        order[d] = s
    rest = iter(i for i in range(x.dim()) if i not in src)
    return Permute(tuple(o if o is not None else next(rest) for o in order))


def _cat_field(call: Call) -> object:
    tensors = call.args[0]
    dim = call.arg(1, "dim", 0)
    return Concat(dim - tensors[0].dim() if dim >= 0 else dim)


def _flip_field(call: Call) -> object:
    x, dims = call.args[0], call.arg(1, "dims")
    per: list = [None] * x.dim()
    for d in (dims if isinstance(dims, (tuple, list)) else (dims,)):
        per[d] = Flip()
    return tuple(per)


def _roll_field(call: Call) -> object:
    x, shifts, dims = call.args[0], call.arg(1, "shifts"), call.arg(2, "dims")
    if dims is None:
        return None  # rolls the flattened tensor
    shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    per: list = [None] * x.dim()
    for shift, d in zip(shifts, dims, strict=True):
        per[d] = Pad(int(shift), "circular")
    return tuple(per)


def _mixes(index: int, name: str, local: bool = True):  # noqa: ANN202
    def field(call: Call) -> object:
        dim = call.arg(index, name)
        if dim is None:
            return END  # over everything
        return Mixes(tuple(dim) if isinstance(dim, (tuple, list)) else (dim,), local)

    return field


def _reduce_cost(call: Call) -> Costs:
    x = call.args[0]
    return ({}, {"reduce": x.numel()}) if isinstance(x, torch.Tensor) else ({}, {})


def _norm_rule(affine_index: int, per_affine: str, per_plain: str, field, saved) -> Rule:  # noqa: ANN001
    def cost(call: Call) -> Costs:
        affine = call.arg(affine_index, "weight") is not None
        return {}, {"norm": OPS_PER_ELEMENT[per_affine if affine else per_plain] * call.out.numel()}

    return Rule("norm", cost, field, saved=saved)


def _layer_norm_field(call: Call) -> object:
    shape = call.arg(1, "normalized_shape")
    return Mixes(tuple(range(-len(shape), 0)))


def _spatial_statistics(call: Call) -> object:
    return Mixes(tuple(range(2, call.input.dim())))


_ADD = Rule("add", elementwise("add"), _pass, _broadcast_shape, saved=saving.nothing)
_MUL = Rule("mul", elementwise("mul"), _pass, _broadcast_shape, saved=saving.operands(0))
_DIV = Rule("mul", elementwise("mul"), _pass, _broadcast_shape, saved=saving.quotient)
_ACT = Rule("act", elementwise("act"), _pass, saved=saving.activation_input)
_OUTPUT_ACT = Rule("act", elementwise("act"), _pass, saved=saving.output)  # autograd keeps the result
_SOFTMAX = Rule("softmax", elementwise("softmax"), _mixes(1, "dim"), saved=saving.output)
_SHAPE = Rule("shape", saved=saving.nothing)  # no cost; the field follows the shapes
_KEEP = Rule("shape", field=_pass, saved=saving.nothing)  # no cost; every position stays where it is

_OUTPUT_ACT_FUNCTIONS = (F.relu, F.relu_, torch.relu, torch.relu_, F.sigmoid, torch.sigmoid, F.tanh, torch.tanh,
                         torch.exp, torch.sqrt, torch.rsqrt)
_ACT_FUNCTIONS = (F.relu6, F.gelu, F.silu, F.hardswish, F.hardsigmoid, F.mish, F.leaky_relu, F.elu, F.selu,
                  F.softplus, F.hardtanh, torch.erf, torch.clamp, torch.abs, torch.log)

FUNCTIONS: dict[object, Rule] = {
    **dict.fromkeys((operator.add, operator.iadd, operator.sub, operator.isub, operator.neg, torch.add, torch.sub,
                     torch.neg), _ADD),
    **dict.fromkeys((operator.mul, operator.imul, torch.mul), _MUL),
    **dict.fromkeys((operator.truediv, operator.itruediv, torch.div, torch.true_divide), _DIV),
    **dict.fromkeys(_OUTPUT_ACT_FUNCTIONS, _OUTPUT_ACT),
    **dict.fromkeys(_ACT_FUNCTIONS, _ACT),
    **dict.fromkeys((F.softmax, torch.softmax, F.log_softmax), _SOFTMAX),
    **dict.fromkeys((operator.matmul, torch.matmul, torch.mm, torch.bmm),
                    Rule("matmul", _matmul_cost(0), saved=saving.operands(0))),
    **dict.fromkeys((torch.addmm, torch.baddbmm), Rule("matmul", _matmul_cost(1), saved=saving.operands(1))),
    torch.einsum: Rule("matmul", _einsum_cost),
    F.linear: Rule("linear", _linear_cost, lambda call: Mixes((-1,), local=False), saved=saving.input_),
    F.scaled_dot_product_attention: Rule("attention", _sdpa_cost),
    **dict.fromkeys((F.conv1d, F.conv2d, F.conv3d),
                    Rule("conv", _conv_cost, _conv_field, _conv_shape, saved=saving.input_)),
    **dict.fromkeys((F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d),
                    Rule("conv", _transposed_cost, _transposed_field, saved=saving.input_)),
    **dict.fromkeys((F.max_pool1d, F.max_pool2d, F.max_pool3d), _pool_rule(4, 5)),
    **dict.fromkeys((F.avg_pool1d, F.avg_pool2d, F.avg_pool3d), _pool_rule(None, 4)),
    **dict.fromkeys((F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d),
                    Rule("pool", _adaptive_cost, _adaptive_field, saved=_adaptive_saved)),
    **dict.fromkeys((F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d),
                    Rule("pool", _adaptive_cost, _adaptive_field, saved=saving.max_pool)),
    **dict.fromkeys((F.interpolate, F.upsample), _interpolate_rule()),
    F.upsample_bilinear: _interpolate_rule(align_corners=True, mode="bilinear"),
    F.upsample_nearest: _interpolate_rule(mode="nearest"),
    **dict.fromkeys((torch.mean, torch.sum), Rule("reduce", _reduce_cost, saved=saving.nothing)),
    **dict.fromkeys((torch.amax, torch.var), Rule("reduce", _reduce_cost)),
    F.layer_norm: _norm_rule(2, "norm_affine", "norm_plain", _layer_norm_field,
                             lambda call, needs: saving.layer_norm(len(call.arg(1, "normalized_shape")))(call, needs)),
    F.group_norm: _norm_rule(2, "norm_affine", "norm_plain", _spatial_statistics,
                             lambda call, needs: saving.group_norm(int(call.arg(1, "num_groups")))(call, needs)),
    F.instance_norm: _norm_rule(3, "norm_affine", "norm_plain", _spatial_statistics, None),
    F.batch_norm: _norm_rule(3, "batchnorm", "batchnorm", _pass, saving.batch_norm),
    F.normalize: Rule("norm", elementwise("norm", "norm_plain"), _mixes(2, "dim")),
    F.pad: Rule("pad", field=_pad_field, saved=_pad_saved),
    operator.getitem: Rule("shape", field=_getitem_field),
    torch.narrow: Rule("shape", field=_narrow_field),
    **dict.fromkeys((torch.cat, torch.concat), Rule("shape", field=_cat_field)),
    torch.flip: Rule("shape", field=_flip_field),
    torch.permute: Rule("shape", field=_permute_field),
    **dict.fromkeys((torch.transpose, torch.swapaxes, torch.swapdims), Rule("shape", field=_transpose_field)),
    torch.movedim: Rule("shape", field=_movedim_field),
    torch.roll: Rule("shape", field=_roll_field),
    **dict.fromkeys((F.pixel_shuffle, torch.pixel_shuffle),
                    Rule("shape", field=lambda call: pixel_shuffle_field(int(call.arg(1, "upscale_factor"))))),
    **dict.fromkeys((F.pixel_unshuffle, torch.pixel_unshuffle),
                    Rule("shape", field=lambda call: pixel_unshuffle_field(int(call.arg(1, "downscale_factor"))))),
    F.dropout: Rule("dropout", field=_pass, saved=saving.dropout(per_channel=False)),
    **dict.fromkeys((F.dropout1d, F.dropout2d, F.dropout3d), Rule("dropout", field=_pass,
                                                                 saved=saving.dropout(per_channel=True))),
    **dict.fromkeys((torch.clone, torch.channel_shuffle, torch.masked_fill, torch.where), _KEEP),
    **dict.fromkeys((torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze,
                     torch.chunk, torch.split, torch.select, torch.unbind, torch.t, torch.stack,
                     torch.zeros, torch.ones, torch.zeros_like, torch.ones_like, torch.full, torch.arange,
                     torch.empty, torch.tensor, torch.as_tensor, torch.repeat_interleave, torch.tile, torch.meshgrid,
                     torch.gather, torch.index_select, getattr, torch._assert, torch.topk, torch.argmax), _SHAPE),
}

METHODS: dict[str, Rule] = {
    **dict.fromkeys(("add", "add_", "sub", "sub_", "neg", "__add__", "__sub__", "__radd__", "__rsub__"), _ADD),
    **dict.fromkeys(("mul", "mul_", "__mul__", "__rmul__"), _MUL),
    **dict.fromkeys(("div", "div_", "__truediv__"), _DIV),
    **dict.fromkeys(("relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "exp", "sqrt", "rsqrt"), _OUTPUT_ACT),
    **dict.fromkeys(("clamp", "clamp_", "abs", "pow"), _ACT),
    **dict.fromkeys(("softmax", "log_softmax"), _SOFTMAX),
    **dict.fromkeys(("matmul", "mm", "bmm", "__matmul__"), Rule("matmul", _matmul_cost(0), saved=saving.operands(0))),
    **dict.fromkeys(("mean", "sum"), Rule("reduce", _reduce_cost, saved=saving.nothing)),
    **dict.fromkeys(("amax", "var", "norm"), Rule("reduce", _reduce_cost)),
    "__getitem__": Rule("shape", field=_getitem_field),
    "narrow": Rule("shape", field=_narrow_field),
    "flip": Rule("shape", field=_flip_field),
    "permute": Rule("shape", field=_permute_field),
    **dict.fromkeys(("transpose", "swapaxes", "swapdims"), Rule("shape", field=_transpose_field)),
    "movedim": Rule("shape", field=_movedim_field),
    "roll": Rule("shape", field=_roll_field),
    **dict.fromkeys(("clone", "contiguous", "detach", "to", "float", "half", "double", "type", "type_as",
                     "masked_fill", "masked_fill_", "fill_", "zero_", "copy_", "cpu", "requires_grad_"), _KEEP),
    **dict.fromkeys(("view", "view_as", "reshape", "reshape_as", "flatten", "squeeze",
                     "unsqueeze", "expand", "expand_as", "chunk", "split", "select", "unbind", "t", "unflatten",
                     "repeat", "new_zeros", "new_ones", "new_empty", "new_full", "size", "dim",
                     "numel", "gather", "index_select", "tile", "repeat_interleave", "long", "int", "bool",
                     "argmax", "topk"), _SHAPE),
}

VIEW_FUNCTIONS = {operator.getitem, torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.squeeze,
                  torch.unsqueeze, torch.chunk, torch.split, torch.narrow, torch.select, torch.unbind, torch.t,
                  torch.movedim}
VIEW_METHODS = {"view", "view_as", "reshape", "reshape_as", "flatten", "permute", "transpose", "squeeze",
                "unsqueeze", "expand", "expand_as", "chunk", "split", "narrow", "select", "unbind", "t",
                "contiguous", "detach", "unflatten", "movedim", "__getitem__"}

for _function, _rule in FUNCTIONS.items():
    register_function_rule(_function, _rule)
for _method, _rule in METHODS.items():
    register_function_rule(_method, _rule)
