"""Counting conventions, in one place so docs/analysis.md and the code cannot drift apart.

``macs`` are multiply-accumulates of conv, linear, matmul-like ops and attention. ``flops`` are
``2 * macs`` plus element-wise operations counted per element of the tensor named below.
"""

from __future__ import annotations

__all__ = ["MAC_KINDS", "OPS_PER_ELEMENT", "CONVENTIONS"]

# kinds whose cost is multiply-accumulates (each contributes 2 flops per MAC)
MAC_KINDS = ("conv", "linear", "matmul", "attention")

# element-wise flops per element of the tensor they are counted on
OPS_PER_ELEMENT = {
    "bias": 1,  # one add per output element of a conv / linear with bias
    "batchnorm": 2,  # inference: y = a * x + b with folded statistics
    "norm_affine": 7,  # layer/group/instance norm: mean 1, centre 1, variance 2, normalise 1, affine 2
    "norm_plain": 5,  # the same without the affine transform
    "act": 1,  # any activation (ReLU, GELU, SiLU, sigmoid, hard-swish ...)
    "add": 1,  # add / subtract
    "mul": 1,  # multiply / divide (gating, scaling)
    "softmax": 3,  # exp, sum, divide
    "reduce": 1,  # mean / sum: one add per input element
}

CONVENTIONS = {
    "conv": "MACs = N * C_out * H_out * W_out * (C_in / groups) * k_h * k_w",
    "conv_transpose": "MACs counted from input positions: N * C_in * H_in * W_in * (C_out / groups) * k_h * k_w",
    "linear": "MACs = (output elements) * in_features",
    "matmul": "MACs = (output elements) * (contracted size); einsum: product of all index sizes",
    "attention": "MACs = B * heads * L_q * L_k * (d_qk + d_v) for the two products Q K^T and A V",
    "bias": "1 flop per output element",
    "norm": "batch norm 2 per element (inference, folded); layer/group/instance norm 7 (5 without affine)",
    "act": "1 flop per element for every activation",
    "pool": "max/avg pooling: k_h * k_w per output element; adaptive/global: 1 per input element",
    "add": "1 flop per output element (residual add, subtract)",
    "mul": "1 flop per output element (gating, scaling, divide)",
    "softmax": "3 flops per element",
    "upsample": "nearest 0 (a copy); bilinear 4 and bicubic 16 per output element",
    "reduce": "mean/sum: 1 flop per input element",
    "shape": "view, reshape, permute, cat, split, pad, dropout (inference): 0",
}
