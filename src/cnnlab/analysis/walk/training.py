"""What one call adds to a training step: backward MACs and the activations it saves for the backward.

Backward MACs (the convention FlopCounterMode counts): a convolution or linear layer costs its forward MACs
once for the gradient of its input — only when that input needs one, so not for the first layer, whose
input is the image — and once for the gradient of its weight, when the weight is trainable; a matmul its
forward MACs per operand that needs a gradient. A rule can say otherwise (``Rule.grad_macs``).

Saved activations: what autograd keeps between forward and backward (``Rule.saved``), only for calls whose
output needs a gradient, each tensor by its storage (a view or an in-place result is the tensor it aliases,
so an activation saved by two ops counts once); parameters and buffers are not activations.
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.analysis.rules.base import Call, Rule, Saved
from cnnlab.analysis.rules.conventions import MAC_KINDS

__all__ = ["grad_macs", "saved_entries", "weight_needs_grad"]


def weight_needs_grad(module: nn.Module | None) -> bool:
    return module is not None and any(p.requires_grad for p in module.parameters())


def grad_macs(rule: Rule, call: Call, macs: dict[str, int], needs: tuple[bool, ...]) -> dict[str, int]:
    """Backward MACs by kind of one call whose tensor arguments need gradients as ``needs``."""
    if rule.grad_macs is not None:
        return rule.grad_macs(call, needs)
    out: dict[str, int] = {}
    for kind, value in macs.items():
        if kind in ("conv", "linear"):
            weight = weight_needs_grad(call.module) if call.module is not None else (len(needs) > 1 and needs[1])
            times = int(bool(needs and needs[0])) + int(bool(weight))
        elif kind == "matmul":
            times = sum(needs[-2:])
        else:
            continue
        if times and kind in MAC_KINDS:
            out[kind] = out.get(kind, 0) + times * value
    return out


def saved_entries(rule: Rule, call: Call, needs: tuple[bool, ...], tensors: list[Tensor], keys: list[object],
                  out_key: object, sizes: list[int] | None = None) -> list[tuple[object, int]] | None:
    """``(storage key, bytes)`` of each activation the call saves (keys None: a parameter or buffer), or
    None when the rule does not say (data movement — views, concatenation, padding — saves nothing).
    ``sizes``: the bytes of each input's whole storage (a view keeps all of it alive), when known."""
    if rule.saved is None:
        return [] if rule.kind in ("shape", "add", "pad", "upsample") else None
    saved = rule.saved(call, needs)
    if not isinstance(saved, Saved):
        from cnnlab.errors import ConfigError

        raise ConfigError(f"the {rule.kind!r} rule returned {saved!r} from saved(); expected a Saved")
    entries = []
    for i in saved.inputs:
        if i < len(tensors) and keys[i] is not None:
            own = tensors[i].numel() * tensors[i].element_size()
            entries.append((keys[i], max(own, sizes[i]) if sizes is not None else own))
    out = call.out
    if saved.output and out is not None and out_key is not None:
        entries.append((out_key, out.numel() * out.element_size()))
    if saved.extra_bytes:
        entries.append((object(), saved.extra_bytes))
    return entries
