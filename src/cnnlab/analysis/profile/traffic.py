"""Bytes a unit moves, looked up by the unit's kind in a small table a user can extend.

The model (stated once, used for every kind unless a rule replaces it): every tensor the unit reads — each
input activation and each weight (parameters and floating-point buffers: a batch norm's running statistics)
— is read from memory once, and every tensor it returns is written once, at its dtype's size
(``numel × element_size``). The memory layout (contiguous or channels_last) changes where the bytes lie,
not how many there are. Caches are ignored: what a unit finds in cache still counts. A view (``shape``
kind) and dropout at inference (its input returned as it is) move nothing. A convolution therefore moves
``N·C_in·H·W·4 + N·C_out·H_out·W_out·4 + C_out·C_in/groups·k_h·k_w·4 + C_out·4`` bytes in float32.

Like fvcore's ``set_op_handle`` (and inspect's :func:`~cnnlab.analysis.register_module_rule`),
:func:`register_bytes_rule` adds or replaces the formula of one kind; the formula gets the unit's
:class:`~cnnlab.analysis.rules.Call` with the real tensors of the run (``args``, ``kwargs``, ``module``,
``output``) and returns an int.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd
from torch.utils import _pytree as pytree

from cnnlab.analysis.rules.base import Call
from cnnlab.errors import ConfigError

__all__ = ["BytesRule", "backward_bytes", "bytes_moved", "plot_kind", "register_bytes_rule", "tensors_bytes", "touched_bytes",
           "PLOT_KINDS"]

BytesRule = Callable[[Call], int]

# the classes of the roofline's points, in legend order
PLOT_KINDS = ("conv", "depthwise conv", "pointwise", "linear", "bn", "elementwise", "pool", "other")


def tensors_bytes(values: Iterable[object]) -> int:
    """Bytes of the distinct tensors among ``values`` (a tensor passed twice, ``x * x``, is read once)."""
    seen: dict[int, Tensor] = {}
    for v in values:
        if isinstance(v, Tensor):
            seen.setdefault(id(v), v)
    return sum(t.numel() * t.element_size() for t in seen.values())


def _weights(module: nn.Module | None) -> list[Tensor]:
    if module is None:
        return []
    return [*module.parameters(), *(b for b in module.buffers() if b.is_floating_point())]


def touched_bytes(call: Call) -> int:
    """The default model: inputs and weights read once, outputs written once."""
    read = tensors_bytes([*pytree.tree_leaves((call.args, call.kwargs)), *_weights(call.module)])
    return read + tensors_bytes(pytree.tree_leaves(call.output))


def _nothing(call: Call) -> int:
    return 0


_BYTES_RULES: dict[str, BytesRule] = {"shape": _nothing, "dropout": _nothing}


def register_bytes_rule(kind: str, rule: BytesRule) -> None:
    """Use ``rule(call) -> bytes`` for every unit of ``kind`` (inspect's row kind: ``conv``, ``norm``, ``act``,
    ``add``, ``pool``, ... or your own rule's kind); replaces the built-in formula of that kind."""
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"register_bytes_rule: kind must be a non-empty string, got {kind!r}")
    if not callable(rule):
        raise ConfigError(f"register_bytes_rule({kind!r}): the rule must be a function of a Call, got {rule!r}")
    _BYTES_RULES[kind] = rule


def bytes_moved(kind: str, call: Call, where: str = "") -> int:
    """Bytes ``call`` moves by the formula registered for ``kind`` (default :func:`touched_bytes`)."""
    rule = _BYTES_RULES.get(kind, touched_bytes)
    value = rule(call)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"the bytes rule of kind {kind!r} at {where or '?'} returned {value!r}; expected an "
                          "int ≥ 0")
    return value


def _conv_class(groups: int, in_channels: int, kernel: tuple[int, ...]) -> str:
    if groups > 1 and groups == in_channels:
        return "depthwise conv"
    if groups == 1 and all(k == 1 for k in kernel):
        return "pointwise"
    return "conv"


def plot_kind(kind: str, call: Call) -> str:
    """The class of a unit's roofline point (:data:`PLOT_KINDS`) from its inspect kind and its module."""
    m = call.module
    if kind == "conv":
        if isinstance(m, _ConvNd):
            return _conv_class(m.groups, m.in_channels, tuple(m.kernel_size))
        weight = call.arg(1, "weight")
        x = call.input
        groups = call.arg(6, "groups", 1)
        if isinstance(weight, Tensor) and isinstance(x, Tensor) and isinstance(groups, int) and x.dim() > 1:
            return _conv_class(groups, x.shape[1], tuple(weight.shape[2:]))
        return "conv"
    if kind in ("linear", "matmul", "attention"):
        return "linear"
    if kind == "norm":
        return "bn"
    if kind in ("act", "add", "mul", "softmax", "upsample", "pad", "dropout", "shape"):
        return "elementwise"
    if kind in ("pool", "reduce"):
        return "pool"
    return "other"


def backward_bytes(call: Call, forward_bytes: int, grad_inputs: Iterable[Tensor]) -> int:
    """Bytes of a unit's backward under the same model: its output's gradient read and its inputs and weights
    read again (``forward_bytes`` once more), a gradient written for each input that needs one
    (``grad_inputs``) and for each trainable weight. A unit that moves nothing forward moves nothing back."""
    if forward_bytes == 0:
        return 0
    trainable = [p for p in call.module.parameters() if p.requires_grad] if call.module is not None else []
    return forward_bytes + tensors_bytes(grad_inputs) + tensors_bytes(trainable)
