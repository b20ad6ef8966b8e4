"""REINFORCE with an LSTM controller (Zoph & Le 2017, "Neural Architecture Search with
Reinforcement Learning", Sec. 3.2): the controller samples an architecture token by token with
probability p; after the child scores R, the controller ascends (R − b) · ∇ log p, where b is an
exponential moving average of past rewards. Adam's learning rate 0.01 is the one the NAS-Bench-201 /
NATS-Bench authors run REINFORCE with on that space (NATS-Bench, ``exps/NATS-algos/reinforce.py``); at
0.05 the controller collapsed onto a few cells within 20 rewards there (8–44 distinct cells in 100)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnlab.nas.strategies.base import Strategy

__all__ = ["Controller", "Reinforce"]


class Controller(nn.Module):
    """An LSTM cell fed the previous token's embedding; one softmax head per token position."""

    def __init__(self, choices: Sequence[int], hidden: int = 32) -> None:
        super().__init__()
        self.choices = tuple(choices)
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.ModuleList(nn.Embedding(c, hidden) for c in self.choices)
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, c) for c in self.choices)

    def log_prob(self, tokens: list[int] | None, generator: torch.Generator | None = None
                 ) -> tuple[list[int], torch.Tensor]:
        """Sample tokens (``tokens=None``) or score given ones; return (tokens, log p(tokens))."""
        x, state = self.start, None
        out, total = [], torch.zeros(())
        for i, head in enumerate(self.heads):
            h, c = self.lstm(x, state)
            state = (h, c)
            logp = torch.log_softmax(head(h)[0], dim=-1)
            if tokens is None:
                t = int(torch.multinomial(logp.exp().detach(), 1, generator=generator))
            else:
                t = int(tokens[i])
            out.append(t)
            total = total + logp[t]
            x = self.embed[i](torch.tensor([t]))
        return out, total


class Reinforce(Strategy):
    name = "reinforce"

    def __init__(self, choices: Sequence[int], seed: int = 0, hidden: int = 32, lr: float = 0.01,
                 baseline_decay: float = 0.8, warm_start: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__(choices, seed, warm_start)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.controller = Controller(self.choices, hidden)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=lr, foreach=True)
        self.generator = torch.Generator().manual_seed(seed)
        self.baseline_decay = baseline_decay
        self.baseline: float | None = None
        self._proposed: tuple[list[int], torch.Tensor] | None = None  # the last sample and its log p (graph kept)

    def propose_next(self) -> list[int]:
        tokens, logp = self.controller.log_prob(None, self.generator)
        self._proposed = (tokens, logp)  # the controller only changes in observe, which uses or drops it
        return tokens

    def observe(self, tokens: list[int], reward: float) -> None:
        """One policy-gradient step on ``−(R − b) log p(tokens)``, then update the EMA baseline b."""
        proposed, self._proposed = self._proposed, None
        if self.baseline is None:
            self.baseline = float(reward)  # the first reward only sets the baseline
            return
        advantage = float(reward) - self.baseline
        if proposed is not None and proposed[0] == [int(t) for t in tokens]:
            logp = proposed[1]  # computed by the same weights when it was sampled
        else:
            _, logp = self.controller.log_prob(tokens)
        self.optimizer.zero_grad()
        (-advantage * logp).backward()
        self.optimizer.step()
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(reward)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "controller": self.controller.state_dict(),
                "optimizer": self.optimizer.state_dict(), "baseline": self.baseline,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._proposed = None
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
        self.generator.set_state(state["generator"])
