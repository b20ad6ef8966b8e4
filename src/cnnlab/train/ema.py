"""An exponential moving average (EMA) of a model's weights, evaluated in place of the raw weights.

Polyak averaging as modern recipes use it (timm's ``ModelEmaV2``, airbench): after every optimizer step
``ema = d * ema + (1 - d) * weights`` for every floating-point entry of the state dict (BatchNorm's running
statistics included), integer entries (``num_batches_tracked``) copied. The decay ramps up as in
TensorFlow's ``ExponentialMovingAverage(num_updates=...)``: ``d_t = min(decay, (1 + t) / (10 + t))`` at the
t-th update (t = 0, 1, ...), so that the average does not remember the random initialisation for
thousands of steps in a short run.

:func:`attach_ema` hooks the average onto the optimizer: it is updated after each of its steps and is saved
and restored with ``optimizer.state_dict()`` (key ``"cnnlab_ema"``), so a checkpointed run resumes with it.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["WeightEma", "attach_ema", "ema_decay_at", "STATE_KEY"]

STATE_KEY = "cnnlab_ema"  # where the average rides in the optimizer's state dict


def ema_decay_at(decay: float, updates: int) -> float:
    """The decay of update number ``updates`` (0 for the first): ``min(decay, (1 + t) / (10 + t))``."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class WeightEma:
    """``module``: a frozen copy of the model holding the average; ``update(model)`` folds in its weights."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self._pairs: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._source: nn.Module | None = None

    def _tensor_pairs(self, model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._pairs is None or self._source is not model:
            mine, theirs = self.module.state_dict(), model.state_dict()
            self._pairs = [(mine[key], theirs[key]) for key in mine]
            self._source = model
        return self._pairs

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """``ema = d * ema + (1 - d) * weights`` with ``d = ema_decay_at(decay, updates)``."""
        weight = 1.0 - ema_decay_at(self.decay, self.updates)
        for average, current in self._tensor_pairs(model):
            if average.dtype.is_floating_point:
                average.lerp_(current.detach(), weight)
            else:
                average.copy_(current)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])

    def attach(self, optimizer: torch.optim.Optimizer, model: nn.Module) -> WeightEma:
        """Update after every ``optimizer.step()``; save and load with the optimizer's state dict."""

        def after_step(_optimizer, _args, _kwargs) -> None:
            self.update(model)

        def add_state(_optimizer, state: dict[str, Any]) -> dict[str, Any]:
            state[STATE_KEY] = self.state_dict()
            return state

        def take_state(_optimizer, state: dict[str, Any]) -> dict[str, Any]:
            saved = state.pop(STATE_KEY, None)
            if saved is not None:
                self.load_state_dict(saved)
            return state

        optimizer.register_step_post_hook(after_step)
        optimizer.register_state_dict_post_hook(add_state)
        optimizer.register_load_state_dict_pre_hook(take_state)
        return self


def attach_ema(model: nn.Module, optimizer: torch.optim.Optimizer, config) -> WeightEma | None:  # noqa: ANN001
    """The run's EMA (``config.ema_decay`` > 0), attached to ``optimizer``; None when the config has none."""
    decay = getattr(config, "ema_decay", 0.0)
    if not decay:
        return None
    return WeightEma(model, decay).attach(optimizer, model)
