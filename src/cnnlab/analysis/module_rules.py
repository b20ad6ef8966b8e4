"""Cost and receptive-field rules of the modules ``inspect`` treats as units (fx leaves).

Each rule gives, for one call of a module on meta tensors: the kind of unit, its MACs and element-wise
flops by kind (see :mod:`cnnlab.analysis.conventions`), and how it maps the receptive field of its
input (a :class:`~cnnlab.analysis.field.Field`, or ``PASS`` for shape-preserving units).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from torch import Tensor, nn

from cnnlab.analysis import field as rf
from cnnlab.analysis.conventions import OPS_PER_ELEMENT
from cnnlab.analysis.steps import int_pair
from cnnlab.errors import ConfigError

__all__ = ["ModuleRule", "rule_for", "PASS", "check_input"]

PASS = "pass"  # the unit keeps the spatial layout: the receptive field goes through unchanged

Costs = tuple[dict[str, int], dict[str, int]]  # (macs by kind, element-wise flops by kind)


@dataclass(frozen=True)
class ModuleRule:
    kind: str
    cost: Callable[[nn.Module, tuple, object], Costs]
    field: Callable[[nn.Module, rf.Field, Tensor, Tensor], rf.Field | str | None]
    shape_only: bool = False  # no arithmetic at all (flatten, identity, dropout in inference)


def _numel(t: object) -> int:
    if isinstance(t, Tensor):
        return t.numel()
    if isinstance(t, (tuple, list)):
        return sum(_numel(x) for x in t)
    return 0


def _no_cost(m: nn.Module, args: tuple, out: object) -> Costs:
    return {}, {}


def _pass(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> str:
    return PASS


def _bias(m: nn.Module, out: Tensor) -> dict[str, int]:
    return {"bias": out.numel()} if getattr(m, "bias", None) is not None else {}


def _conv_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    macs = out.numel() * m.weight[0].numel()
    return {"conv": macs}, _bias(m, out)


def _conv_transpose_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    x = args[0]
    # counted from input positions: every input pixel is multiplied by the whole kernel once
    macs = x.numel() * m.weight[0].numel()
    return {"conv": macs}, _bias(m, out)


def _conv_padding(m: nn.Module, k: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    if m.padding == "same":
        return d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2
    if m.padding == "valid":
        return 0, 0
    return int_pair(m.padding)


def _conv_field(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    if x.dim() != 4:
        return None
    k, d = int_pair(m.kernel_size), int_pair(m.dilation)
    return rf.window(f, k, int_pair(m.stride), _conv_padding(m, k, d), d)


def _conv_transpose_field(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    if x.dim() != 4:
        return None
    return rf.transposed(f, int_pair(m.kernel_size), int_pair(m.stride), int_pair(m.padding), int_pair(m.dilation))


def _linear_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    return {"linear": out.numel() * m.in_features}, _bias(m, out)


def _bilinear_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    return {"linear": out.numel() * m.in1_features * m.in2_features}, _bias(m, out)


def _batchnorm_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    return {}, {"norm": OPS_PER_ELEMENT["batchnorm"] * out.numel()}


def _norm_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    affine = getattr(m, "elementwise_affine", getattr(m, "affine", False))
    per = OPS_PER_ELEMENT["norm_affine" if affine else "norm_plain"]
    return {}, {"norm": per * out.numel()}


def _act_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    return {}, {"act": OPS_PER_ELEMENT["act"] * out.numel()}


def _softmax_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    return {}, {"softmax": OPS_PER_ELEMENT["softmax"] * out.numel()}


def _pool_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    k = int_pair(m.kernel_size)
    return {}, {"pool": k[0] * k[1] * out.numel()}


def pool_window(m: nn.Module) -> tuple[tuple[int, int], ...]:
    """``(kernel, stride, padding, dilation)`` of a 2-D pooling module, each ``(h, w)``; no stride means
    the kernel size, and average pooling has dilation 1."""
    k = int_pair(m.kernel_size)
    s = int_pair(m.stride if m.stride is not None else m.kernel_size)
    return k, s, int_pair(m.padding), int_pair(getattr(m, "dilation", 1))


def _pool_field(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    if x.dim() != 4:
        return None
    return rf.window(f, *pool_window(m))


def _adaptive_pool_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    x = args[0]
    return {}, {"pool": x.numel()}


def adaptive_field(f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    """Adaptive pooling: uniform windows when the sizes divide, else (and for global pooling) the end."""
    if x.dim() != 4 or out.dim() != 4:
        return None
    (hi, wi), (ho, wo) = x.shape[-2:], out.shape[-2:]
    if (ho, wo) == (1, 1) and (hi, wi) != (1, 1) or hi % ho or wi % wo:
        return None
    k = (hi // ho, wi // wo)
    return rf.window(f, k, k, (0, 0))


def _adaptive_field(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    return adaptive_field(f, x, out)


def upsample_cost(mode: str, out: Tensor) -> Costs:
    per = {"bilinear": 4, "bicubic": 16, "linear": 2, "trilinear": 8}.get(mode, 0)
    return {}, ({"upsample": per * out.numel()} if per else {})


def upsample_field(mode: str, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    if x.dim() != 4 or out.dim() != 4:
        return None
    scale = (out.shape[-2] / x.shape[-2], out.shape[-1] / x.shape[-1])
    return rf.upsample(f, scale, mode)


def _upsample_cost(m: nn.Module, args: tuple, out: Tensor) -> Costs:
    return upsample_cost(m.mode, out)


def _upsample_field(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    return upsample_field(m.mode, f, x, out)


def _pad_field(m: nn.Module, f: rf.Field, x: Tensor, out: Tensor) -> rf.Field | None:
    pad = tuple(m.padding) if isinstance(m.padding, (tuple, list)) else (m.padding,) * 4
    if x.dim() != 4 or len(pad) != 4:
        return None
    left, top = pad[0], pad[2]  # (left, right, top, bottom)
    return rf.window(f, (1, 1), (1, 1), (top, left))


def _mha_cost(m: nn.Module, args: tuple, out: object) -> Costs:
    q = args[0]
    k = args[1] if len(args) > 1 and isinstance(args[1], Tensor) else q
    args[2] if len(args) > 2 and isinstance(args[2], Tensor) else k
    e, heads = m.embed_dim, m.num_heads
    seq_axis = 0 if q.dim() == 2 or not m.batch_first else 1
    batch = 1 if q.dim() == 2 else q.shape[1 - seq_axis]
    len_q, len_k = q.shape[seq_axis], k.shape[seq_axis]
    projections = batch * (len_q * e * e + len_k * m.kdim * e + len_k * m.vdim * e + len_q * e * e)
    attention = batch * len_q * len_k * e * 2  # Q K^T and A V summed over heads (head_dim * heads = e)
    softmax = OPS_PER_ELEMENT["softmax"] * batch * heads * len_q * len_k
    return {"linear": projections, "attention": attention}, {"softmax": softmax}


_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
          nn.LocalResponseNorm, nn.RMSNorm)
_ACTS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
         nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.Softsign,
         nn.Tanhshrink, nn.LogSigmoid, nn.Threshold, nn.GLU, nn.Hardshrink, nn.Softshrink)
_SHAPE_ONLY = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
               nn.Flatten, nn.Unflatten, nn.ChannelShuffle, nn.PixelShuffle, nn.PixelUnshuffle,
               nn.Embedding)

_RULES: tuple[tuple[tuple[type, ...], ModuleRule], ...] = (
    ((nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d),
     ModuleRule("conv", _conv_transpose_cost, _conv_transpose_field)),
    ((nn.Conv1d, nn.Conv2d, nn.Conv3d), ModuleRule("conv", _conv_cost, _conv_field)),
    ((nn.Linear,), ModuleRule("linear", _linear_cost, _pass)),
    ((nn.Bilinear,), ModuleRule("linear", _bilinear_cost, lambda m, f, x, o: None)),
    ((nn.MultiheadAttention,), ModuleRule("attention", _mha_cost, _pass)),
    ((nn.modules.batchnorm._BatchNorm,), ModuleRule("norm", _batchnorm_cost, _pass)),
    (_NORMS, ModuleRule("norm", _norm_cost, _pass)),
    (_ACTS, ModuleRule("act", _act_cost, _pass)),
    ((nn.Softmax, nn.LogSoftmax, nn.Softmax2d), ModuleRule("softmax", _softmax_cost, _pass)),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.LPPool2d),
     ModuleRule("pool", _pool_cost, _pool_field)),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
      nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), ModuleRule("pool", _adaptive_pool_cost, _adaptive_field)),
    ((nn.Upsample,), ModuleRule("upsample", _upsample_cost, _upsample_field)),
    ((nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d),
     ModuleRule("pad", _no_cost, _pad_field, shape_only=True)),
    (_SHAPE_ONLY, ModuleRule("shape", _no_cost, _pass, shape_only=True)),
)


@cache
def rule_for(module_type: type) -> ModuleRule | None:
    """The rule for a module type (cached per type), or None when cnnlab has no formula for it."""
    for types, rule in _RULES:
        if issubclass(module_type, types):
            return rule
    return None


def check_input(path: str, m: nn.Module, x: object) -> None:
    """Channel / feature checks that turn a wrong input into a ConfigError naming the layer."""
    if not isinstance(x, Tensor):
        return
    expected, got = None, None
    if isinstance(m, nn.modules.conv._ConvNd):
        expected, got = m.in_channels, (x.shape[-len(m.kernel_size) - 1] if x.dim() > len(m.kernel_size) else None)
    elif isinstance(m, nn.modules.batchnorm._BatchNorm) and x.dim() >= 2:
        expected, got = m.num_features, x.shape[1]
    elif isinstance(m, nn.Linear) and x.dim() >= 1:
        expected, got = m.in_features, x.shape[-1]
    if expected is not None and got != expected:
        what = "input features" if isinstance(m, nn.Linear) else "input channels"
        raise ConfigError(
            f"layer {path!r} ({type(m).__name__}) expects {expected} {what}, got {got} "
            f"(input shape {tuple(x.shape)})"
        )
