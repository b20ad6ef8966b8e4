"""Count the aten ops inside an op that has no formula of its own (a wrapped function, a module
cnnlab does not know), so its matmuls are not lost and what stays uncounted is named.

Used only for those few ops, on meta tensors; everything else is counted by formulas.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["AtenCounter"]

_aten = torch.ops.aten

# aten ops that only move or create data
_SHAPE_ONLY = {
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "clone", "contiguous", "slice",
    "select", "index", "cat", "stack", "split", "split_with_sizes", "unsqueeze", "squeeze", "constant_pad_nd",
    "roll", "new_zeros", "new_ones", "new_empty", "new_full", "zeros", "ones", "empty", "full", "arange",
    "copy_", "fill_", "zero_", "masked_fill", "detach", "alias", "_to_copy", "lift_fresh", "unbind", "flip",
    "gather", "index_select", "repeat", "expand_as", "view_as", "_reshape_alias", "as_strided", "scalar_tensor",
    "empty_like", "zeros_like", "ones_like", "where", "native_dropout", "dropout", "unfold", "sym_size",
    "_local_scalar_dense", "item", "clamp", "diagonal", "tril", "triu", "eq", "ne", "lt", "gt", "pad",
}
_ELEMENTWISE = {
    "add": "add", "sub": "add", "rsub": "add", "mul": "mul", "div": "mul", "relu": "act", "gelu": "act",
    "silu": "act", "sigmoid": "act", "tanh": "act", "hardswish": "act", "hardsigmoid": "act", "exp": "act",
    "sqrt": "act", "rsqrt": "act", "pow": "act", "_softmax": "softmax", "softmax": "softmax",
    "_log_softmax": "softmax", "mean": "reduce", "sum": "reduce", "native_layer_norm": "norm",
}


class AtenCounter(TorchDispatchMode):
    """Accumulates MACs by kind, element-wise ops by kind and the names of uncounted aten ops."""

    def __init__(self) -> None:
        super().__init__()
        self.macs: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()
        self.unsupported: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        self._count(func, args, out)
        return out

    def _count(self, func, args: tuple, out: object) -> None:  # noqa: ANN001
        name = func._overloadpacket.__name__
        first = out[0] if isinstance(out, (tuple, list)) else out
        if name in ("mm", "bmm", "addmm", "baddbmm"):
            a = args[1] if name in ("addmm", "baddbmm") else args[0]
            self.macs["matmul"] += first.numel() * a.shape[-1]
        elif name == "convolution":
            w, transposed = args[1], args[6]
            self.macs["conv"] += (args[0].numel() if transposed else first.numel()) * w[0].numel()
        elif name.startswith("_scaled_dot_product") or name == "scaled_dot_product_attention":
            q, k, v = args[0], args[1], args[2]
            pairs = q.numel() // q.shape[-1] * k.shape[-2]
            self.macs["attention"] += pairs * (q.shape[-1] + v.shape[-1])
        elif name in _ELEMENTWISE:
            kind = _ELEMENTWISE[name]
            if isinstance(first, torch.Tensor):
                self.ops[kind] += first.numel()
        elif name not in _SHAPE_ONLY and not getattr(func, "is_view", False):
            self.unsupported[f"aten.{name}"] += 1
