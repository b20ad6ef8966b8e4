"""What common ops save for their backward (autograd's ``derivatives.yaml``), as ``Rule.saved`` functions.

Measured against ``torch.autograd.graph.saved_tensors_hooks`` on real training steps (tests/analysis):
a convolution or linear layer keeps its input; batch norm its input and two per-channel statistics
(float32); ReLU, sigmoid, tanh and softmax their output, the other activations their input (run in place, a copy
of it); max pooling
its input and int64 indices, average pooling its input (global average pooling, a mean, nothing);
dropout its float mask; a product each operand the other one's gradient needs; add, views, concatenation,
zero padding and upsampling nothing.
"""

from __future__ import annotations

from math import prod

from cnnlab.analysis.rules.base import Call, Saved

__all__ = ["input_", "activation_input", "output", "nothing", "operands", "quotient", "batch_norm", "max_pool", "dropout", "layer_norm",
           "group_norm", "STATS_BYTES"]

STATS_BYTES = 4  # normalisation statistics are float32 whatever the activations' dtype


def input_(call: Call, needs: tuple[bool, ...]) -> Saved:
    return Saved((0,))


def _in_place(call: Call) -> bool:
    target = call.target if isinstance(call.target, str) else getattr(call.target, "__name__", str(call.target))
    name = target.split(".")[1] if target.startswith("aten.") else target  # aten.silu_.default -> silu_
    return bool(getattr(call.module, "inplace", False) or call.kwargs.get("inplace", False) or name.endswith("_"))


def activation_input(call: Call, needs: tuple[bool, ...]) -> Saved:
    """An activation whose backward needs its input (SiLU, GELU, ReLU6, hard-swish ...): the input, or, when
    it runs in place and overwrites that input, a copy autograd makes of it first."""
    if _in_place(call):
        x = call.input
        return Saved(extra_bytes=x.numel() * x.element_size())
    return Saved((0,))


def output(call: Call, needs: tuple[bool, ...]) -> Saved:
    return Saved(output=True)


def nothing(call: Call, needs: tuple[bool, ...]) -> Saved:
    return Saved()


def operands(first: int = 0):  # noqa: ANN201
    """A product of the tensor arguments ``first`` and ``first + 1``: each keeps the other for its gradient."""

    def saved(call: Call, needs: tuple[bool, ...]) -> Saved:
        a, b = first, first + 1
        keep = set()
        if len(needs) > a and needs[a]:
            keep.add(b)
        if len(needs) > b and needs[b]:
            keep.add(a)
        return Saved(tuple(sorted(keep)))

    return saved


def quotient(call: Call, needs: tuple[bool, ...]) -> Saved:
    """``a / b`` keeps ``b`` for ``a``'s gradient, and both for ``b``'s."""
    keep = set()
    if needs and needs[0] and len(needs) > 1:
        keep.add(1)
    if len(needs) > 1 and needs[1]:
        keep |= {0, 1}
    return Saved(tuple(sorted(keep)))


def batch_norm(call: Call, needs: tuple[bool, ...]) -> Saved:
    """Input, plus the batch mean and inverse std per channel (training mode)."""
    x = call.input
    return Saved((0,), extra_bytes=2 * int(x.shape[1]) * STATS_BYTES if x.dim() > 1 else 0)


def layer_norm(normalized_dims: int):  # noqa: ANN201
    def saved(call: Call, needs: tuple[bool, ...]) -> Saved:
        x = call.input
        rows = x.numel() // max(1, prod(x.shape[-normalized_dims:]))
        return Saved((0,), extra_bytes=2 * rows * STATS_BYTES)

    return saved


def group_norm(groups: int):  # noqa: ANN201
    def saved(call: Call, needs: tuple[bool, ...]) -> Saved:
        return Saved((0,), extra_bytes=2 * int(call.input.shape[0]) * groups * STATS_BYTES)

    return saved


def max_pool(call: Call, needs: tuple[bool, ...]) -> Saved:
    """Input and the int64 index of each maximum."""
    return Saved((0,), extra_bytes=call.out.numel() * 8)


def dropout(per_channel: bool):  # noqa: ANN201
    """The scaled float mask it multiplies by: one value per element, or per channel (dropout2d)."""

    def saved(call: Call, needs: tuple[bool, ...]) -> Saved:
        x = call.input
        n = prod(x.shape[:2]) if per_channel and x.dim() > 2 else x.numel()
        return Saved(extra_bytes=n * x.element_size())

    return saved
