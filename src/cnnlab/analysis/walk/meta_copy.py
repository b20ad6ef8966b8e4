"""The copy of a user's model that inspect walks: on the meta device, sharing nothing mutable, without hooks.

``inspect`` promises never to touch the model: no parameter, buffer, parametrization state (a spectral
norm's power-iteration vectors), mode or hook of it changes, and no hook of the user's runs. So tracing and
walking happen on this copy: every parameter and buffer is an empty meta tensor of the same shape (nothing
is copied or allocated), every hook is dropped, and a parametrization runs, if at all, on meta tensors.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.nn.modules import module as module_globals

__all__ = ["meta_copy", "no_global_hooks"]

_GLOBAL_HOOKS = ("_global_forward_pre_hooks", "_global_forward_hooks", "_global_backward_pre_hooks",
                 "_global_backward_hooks", "_global_forward_hooks_always_called", "_global_forward_hooks_with_kwargs")


def _meta(t: Tensor, device: str = "meta") -> Tensor:
    m = torch.empty_like(t, device="meta") if device == "meta" else t.detach().to(device, copy=True)
    return nn.Parameter(m, t.requires_grad) if isinstance(t, nn.Parameter) else m


def _strip(module: nn.Module, device: str = "meta") -> None:
    """Hooks dropped, tensors that are plain attributes made meta (e.g. an old-style weight_norm's weight)."""
    state = module.__dict__
    for key, value in list(state.items()):
        if key.endswith("hooks") and isinstance(value, dict) and value:
            state[key] = type(value)() if isinstance(value, OrderedDict) else {}
        elif isinstance(value, Tensor) and device == "meta" and not value.is_meta:
            state[key] = _meta(value)


def _shadow(module: nn.Module) -> nn.Module:
    """Fallback for a model ``copy.deepcopy`` refuses: new module objects over copied attribute dicts."""
    cls = type(module)
    shadow = cls.__new__(cls)
    state = module.__dict__.copy()
    state["_parameters"] = {k: None if p is None else _meta(p) for k, p in module._parameters.items()}
    state["_buffers"] = {k: None if b is None else _meta(b) for k, b in module._buffers.items()}
    state["_modules"] = {k: None if c is None else _shadow(c) for k, c in module._modules.items()}
    object.__setattr__(shadow, "__dict__", state)
    return shadow


def meta_copy(model: nn.Module, device: str = "meta") -> nn.Module:
    """``model`` on the meta device (or, for a real forward, copied to ``device``), sharing nothing with it,
    with every hook dropped."""
    memo: dict[int, object] = {id(t): _meta(t, device) for t in [*model.parameters(), *model.buffers()]}
    try:
        probe = copy.deepcopy(model, memo)
    except Exception:  # noqa: BLE001 - e.g. a module holding a lock or a generator
        if device != "meta":
            raise
        probe = _shadow(model)
    for m in probe.modules():
        _strip(m, device)
    return probe


@contextmanager
def no_global_hooks() -> Iterator[None]:
    """Module hooks registered for every module (``register_module_forward_hook``) are off while inspect runs."""
    saved = {name: getattr(module_globals, name) for name in _GLOBAL_HOOKS if hasattr(module_globals, name)}
    for name, value in saved.items():
        setattr(module_globals, name, type(value)())
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module_globals, name, value)
