"""Cost and receptive-field rules of functions and tensor methods met in a traced graph.

Keys are the function objects of ``call_function`` nodes and the method names of ``call_method``
nodes. Ops in ``SHAPE_ONLY`` cost nothing (views, concatenation, padding, dropout in inference);
``VIEWS`` share storage with their input (used by the liveness pass). Anything with a tensor result
and no entry here is reported in ``Report.unsupported``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from cnnlab.analysis import field as rf
from cnnlab.analysis.conventions import OPS_PER_ELEMENT
from cnnlab.analysis.module_rules import PASS, Costs, adaptive_field, upsample_cost, upsample_field
from cnnlab.analysis.steps import int_pair

__all__ = ["FunctionRule", "FUNCTION_RULES", "METHOD_RULES", "SHAPE_ONLY_FUNCTIONS", "SHAPE_ONLY_METHODS",
           "VIEW_FUNCTIONS", "VIEW_METHODS", "arg"]


@dataclass(frozen=True)
class FunctionRule:
    kind: str
    cost: Callable[[tuple, dict, object], Costs]
    field: Callable[[tuple, dict, rf.Field, Tensor, Tensor], rf.Field | str | None] | None = None


def arg(args: tuple, kwargs: dict, index: int, name: str, default: object = None) -> object:
    """Argument ``name`` given by position ``index`` or by keyword."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _tensor_out(out: object) -> Tensor | None:
    return out if isinstance(out, Tensor) else None


def _elementwise(kind: str) -> Callable[[tuple, dict, object], Costs]:
    per = OPS_PER_ELEMENT.get(kind, 1)

    def cost(args: tuple, kwargs: dict, out: object) -> Costs:
        t = _tensor_out(out)
        return ({}, {kind: per * t.numel()}) if t is not None else ({}, {})

    return cost


def _matmul_cost(first: int) -> Callable[[tuple, dict, object], Costs]:
    def cost(args: tuple, kwargs: dict, out: object) -> Costs:
        a = args[first]
        return {"matmul": out.numel() * a.shape[-1]}, {}

    return cost


def _einsum_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    """MACs = output elements x the sizes of the contracted (summed) indices."""
    equation = args[0].replace(" ", "")
    operands = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    inputs, _, output = equation.partition("->")
    sizes: dict[str, int] = {}
    for letters, t in zip(inputs.split(","), operands, strict=False):
        letters = letters.replace("...", "")
        for letter, size in zip(reversed(letters), reversed(t.shape), strict=False):
            sizes[letter] = int(size)
    if len(operands) < 2:
        return {}, {"reduce": operands[0].numel()}
    contracted = _prod(size for letter, size in sizes.items() if letter not in output)
    return {"matmul": out.numel() * contracted}, {}


def _prod(values: object) -> int:
    total = 1
    for v in values:
        total *= v
    return total


def _linear_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    w, b = args[1] if len(args) > 1 else kwargs["weight"], arg(args, kwargs, 2, "bias")
    return {"linear": out.numel() * w.shape[-1]}, ({"bias": out.numel()} if b is not None else {})


def _sdpa_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    q, k, v = args[0], args[1], args[2]
    pairs = q.numel() // q.shape[-1] * k.shape[-2]  # batch * heads * L_q * L_k
    return {"attention": pairs * (q.shape[-1] + v.shape[-1])}, {"softmax": OPS_PER_ELEMENT["softmax"] * pairs}


def _conv_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    w, b = args[1] if len(args) > 1 else kwargs["weight"], arg(args, kwargs, 2, "bias")
    return {"conv": out.numel() * w[0].numel()}, ({"bias": out.numel()} if b is not None else {})


def _conv_field(args: tuple, kwargs: dict, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    w = args[1] if len(args) > 1 else kwargs["weight"]
    if x.dim() != 4:
        return None
    k, d = (int(w.shape[-2]), int(w.shape[-1])), int_pair(arg(args, kwargs, 5, "dilation", 1))
    padding = arg(args, kwargs, 4, "padding", 0)
    if padding == "same":
        padding = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
    elif padding == "valid":
        padding = 0
    return rf.window(f, k, int_pair(arg(args, kwargs, 3, "stride", 1)), int_pair(padding), d)


def _pool_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    k = int_pair(arg(args, kwargs, 1, "kernel_size"))
    t = out[0] if isinstance(out, tuple) else out
    return {}, {"pool": k[0] * k[1] * t.numel()}


def _pool_field(dilation_index: int | None) -> Callable:
    def field(args: tuple, kwargs: dict, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
        if x.dim() != 4:
            return None
        k = int_pair(arg(args, kwargs, 1, "kernel_size"))
        stride = arg(args, kwargs, 2, "stride")
        s = int_pair(stride) if stride not in (None, [], ()) else k
        d = int_pair(arg(args, kwargs, dilation_index, "dilation", 1)) if dilation_index else (1, 1)
        return rf.window(f, k, s, int_pair(arg(args, kwargs, 3, "padding", 0)), d)

    return field


def _adaptive_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    return {}, {"pool": args[0].numel()}


def _adaptive_field(args: tuple, kwargs: dict, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    return adaptive_field(f, x, out[0] if isinstance(out, tuple) else out)


def _interpolate_mode(args: tuple, kwargs: dict) -> str:
    return str(arg(args, kwargs, 3, "mode", "nearest"))


def _interpolate_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    return upsample_cost(_interpolate_mode(args, kwargs), out)


def _interpolate_field(args: tuple, kwargs: dict, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    return upsample_field(_interpolate_mode(args, kwargs), f, x, out)


def _reduce_cost(args: tuple, kwargs: dict, out: object) -> Costs:
    return {}, {"reduce": args[0].numel()} if isinstance(args[0], Tensor) else {}


def _norm_cost(affine_index: int, per_affine: str, per_plain: str) -> Callable:
    def cost(args: tuple, kwargs: dict, out: object) -> Costs:
        affine = arg(args, kwargs, affine_index, "weight") is not None
        return {}, {"norm": OPS_PER_ELEMENT[per_affine if affine else per_plain] * out.numel()}

    return cost


def _pass_field(args: tuple, kwargs: dict, f: rf.Field, x: Tensor, out: Tensor) -> str:
    return PASS


_ADD, _MUL = _elementwise("add"), _elementwise("mul")
_ACT, _SOFTMAX = _elementwise("act"), _elementwise("softmax")

FUNCTION_RULES: dict[object, FunctionRule] = {
    **{f: FunctionRule("add", _ADD) for f in (operator.add, operator.iadd, operator.sub, operator.isub,
                                              operator.neg, torch.add, torch.sub, torch.neg)},
    **{f: FunctionRule("mul", _MUL) for f in (operator.mul, operator.imul, operator.truediv, operator.itruediv,
                                              torch.mul, torch.div, torch.true_divide)},
    **{f: FunctionRule("act", _ACT) for f in (
        F.relu, F.relu_, torch.relu, torch.relu_, F.relu6, F.gelu, F.silu, F.hardswish, F.hardsigmoid, F.mish,
        F.sigmoid, torch.sigmoid, F.tanh, torch.tanh, F.leaky_relu, F.elu, F.selu, F.softplus, F.hardtanh,
        torch.exp, torch.sqrt, torch.rsqrt, torch.erf, torch.clamp, torch.abs, torch.log)},
    **{f: FunctionRule("softmax", _SOFTMAX) for f in (F.softmax, torch.softmax, F.log_softmax)},
    **{f: FunctionRule("matmul", _matmul_cost(0)) for f in (operator.matmul, torch.matmul, torch.mm, torch.bmm)},
    **{f: FunctionRule("matmul", _matmul_cost(1)) for f in (torch.addmm, torch.baddbmm)},
    torch.einsum: FunctionRule("matmul", _einsum_cost),
    F.linear: FunctionRule("linear", _linear_cost, _pass_field),
    F.scaled_dot_product_attention: FunctionRule("attention", _sdpa_cost, _pass_field),
    **{f: FunctionRule("conv", _conv_cost, _conv_field) for f in (F.conv2d,)},
    **{f: FunctionRule("conv", _conv_cost) for f in (F.conv1d, F.conv3d)},
    F.max_pool2d: FunctionRule("pool", _pool_cost, _pool_field(4)),
    F.avg_pool2d: FunctionRule("pool", _pool_cost, _pool_field(None)),
    **{f: FunctionRule("pool", _adaptive_cost, _adaptive_field) for f in (
        F.adaptive_avg_pool2d, F.adaptive_max_pool2d, F.adaptive_avg_pool1d, F.adaptive_max_pool1d)},
    F.interpolate: FunctionRule("upsample", _interpolate_cost, _interpolate_field),
    **{f: FunctionRule("reduce", _reduce_cost) for f in (torch.mean, torch.sum, torch.amax, torch.var)},
    F.layer_norm: FunctionRule("norm", _norm_cost(2, "norm_affine", "norm_plain"), _pass_field),
    F.group_norm: FunctionRule("norm", _norm_cost(2, "norm_affine", "norm_plain"), _pass_field),
    F.batch_norm: FunctionRule("norm", _norm_cost(3, "batchnorm", "batchnorm"), _pass_field),
    F.normalize: FunctionRule("norm", _elementwise("norm_plain"), _pass_field),
}

METHOD_RULES: dict[str, FunctionRule] = {
    **{m: FunctionRule("add", _ADD) for m in ("add", "add_", "sub", "sub_", "neg", "__add__", "__sub__")},
    **{m: FunctionRule("mul", _MUL) for m in ("mul", "mul_", "div", "div_", "__mul__", "__truediv__")},
    **{m: FunctionRule("act", _ACT) for m in ("relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_",
                                              "exp", "sqrt", "rsqrt", "clamp", "clamp_", "abs", "pow")},
    **{m: FunctionRule("softmax", _SOFTMAX) for m in ("softmax", "log_softmax")},
    **{m: FunctionRule("matmul", _matmul_cost(0)) for m in ("matmul", "mm", "bmm", "__matmul__")},
    **{m: FunctionRule("reduce", _reduce_cost) for m in ("mean", "sum", "amax", "var", "norm")},
}

VIEW_FUNCTIONS = {operator.getitem, torch.flatten, torch.reshape, torch.permute, torch.transpose,
                  torch.squeeze, torch.unsqueeze, torch.chunk, torch.split, torch.narrow, torch.select,
                  torch.unbind, torch.t, torch.movedim}
VIEW_METHODS = {"view", "view_as", "reshape", "reshape_as", "flatten", "permute", "transpose", "squeeze",
                "unsqueeze", "expand", "expand_as", "chunk", "split", "narrow", "select", "unbind", "t",
                "contiguous", "detach", "unflatten", "movedim", "__getitem__"}
SHAPE_ONLY_FUNCTIONS = VIEW_FUNCTIONS | {
    torch.cat, torch.concat, torch.stack, torch.roll, F.pad, F.dropout, F.dropout2d, F.dropout1d,
    torch.zeros, torch.ones, torch.zeros_like, torch.ones_like, torch.full, torch.arange, torch.empty,
    torch.tensor, torch.as_tensor, torch.where, torch.masked_fill, torch.repeat_interleave, torch.tile,
    torch.meshgrid, torch.gather, torch.index_select, torch.clone, torch.channel_shuffle,
    F.pixel_shuffle, F.pixel_unshuffle, getattr, torch._assert, torch.topk, torch.argmax,
}
SHAPE_ONLY_METHODS = VIEW_METHODS | {
    "clone", "repeat", "to", "float", "half", "double", "type", "type_as", "new_zeros", "new_ones",
    "new_empty", "new_full", "masked_fill", "masked_fill_", "fill_", "zero_", "copy_", "size", "dim",
    "numel", "gather", "index_select", "roll", "flip", "tile", "repeat_interleave", "cpu", "long", "int",
    "bool", "argmax", "topk",
}
