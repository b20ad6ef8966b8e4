"""``--prefilter PROXY:K``: each proposal is screened by a zero-cost proxy before anything trains
(Abdelfattah et al., ICLR 2021, "Zero-Cost Proxies for Lightweight NAS", Sec. 5: proxies as a filter
in front of a search).

The K candidates are the strategy's proposal and K − 1 distinct random one-token mutations of it (an op
or an input changed; all of them when the space has fewer: 24 for an NB201 cell). They are drawn from a
generator seeded by the search's seed and the proposal, so a resumed search screens the same ones, and
every strategy works unchanged — it proposes one architecture and learns the one that trained (every
strategy accepts architectures it did not propose). Each candidate is built with the same seeded
initialisation and scored by the proxy (:mod:`cnnlab.nas.proxies`, higher = predicted better) on one
batch: the first training batch of the data, or seeded Gaussian noise of the data's shape where there
are no images (``--data toy``, ``nb201:*``; only data-free proxies then). The best-scored candidate
trains; ties go to the earlier candidate, the proposal first; a NaN or infinite score (an overflowing proxy) is stored as None and ranks last. Under
cost limits (``--max-macs`` …) a candidate over a limit is not scored (None: it could not train).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cnnlab.arith.checks import require_positive
from cnnlab.errors import ConfigError

__all__ = ["Prefilter", "parse_prefilter", "candidates", "proxy_scorer", "choose", "MAX_K"]

MAX_K = 1000


@dataclass(frozen=True)
class Prefilter:
    proxy: str
    k: int

    def setting(self) -> str:
        return f"{self.proxy}:{self.k}"


def parse_prefilter(text: str | None) -> Prefilter | None:
    """``"synflow:8"`` → Prefilter("synflow", 8); None or ``""`` → None. A proxy cnnlab does not know, or a K
    that is not an integer in 2..MAX_K, is a ConfigError naming it."""
    if text is None or str(text).strip() == "":
        return None
    from cnnlab.nas.proxies import get_proxy

    where = f"--prefilter {text!r}"
    proxy, sep, k_text = str(text).strip().partition(":")
    if not sep:
        raise ConfigError(f"{where}: write PROXY:K, e.g. synflow:8 (K candidates scored, the best trains)")
    get_proxy(proxy.strip(), where)
    try:
        k = int(k_text.strip())
    except ValueError:
        raise ConfigError(f"{where}: K must be an integer, got {k_text!r}") from None
    require_positive("K", k, where)
    if not 2 <= k <= MAX_K:
        raise ConfigError(f"{where}: K must be in 2..{MAX_K} (K=1 would screen nothing), got {k}")
    return Prefilter(proxy.strip(), k)


def candidates(tokens: Sequence[int], choices: Sequence[int], k: int, seed: int) -> list[list[int]]:
    """``tokens`` and up to ``k - 1`` distinct one-token mutations of it, drawn by a generator seeded by
    ``seed`` and ``tokens``."""
    tokens = [int(t) for t in tokens]
    mutations = [(i, v) for i, c in enumerate(choices) for v in range(int(c)) if v != tokens[i]]
    rng = np.random.default_rng([int(seed), *tokens])
    picked = rng.permutation(len(mutations))[: max(0, k - 1)]
    out = [tokens]
    for j in sorted(int(p) for p in picked):
        i, v = mutations[j]
        out.append(tokens[:i] + [v] + tokens[i + 1:])
    return out


def proxy_scorer(proxy: str, build: Callable[[dict[str, Any]], torch.nn.Module], decode: Callable[[list[int]], dict],
                 batch: tuple[torch.Tensor, torch.Tensor], seed: int) -> Callable[[list[int]], float]:
    """score(tokens): the proxy of the child of ``tokens``, built after ``torch.manual_seed(seed)`` (the
    global generator is left as it was)."""
    from cnnlab.nas.proxies import get_proxy

    score = get_proxy(proxy, "--prefilter")

    def scored(tokens: list[int]) -> float:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build(decode(tokens))
        return float(score(model, batch))

    return scored


def choose(tokens: list[int], choices: Sequence[int], prefilter: Prefilter, seed: int,
           score: Callable[[list[int]], float], allowed: Callable[[list[int]], bool] | None = None
           ) -> tuple[list[int], list[dict[str, Any]]]:
    """The best-scored of the candidates of ``tokens`` and every candidate with its score; a candidate
    ``allowed`` refuses (over a cost limit) is not scored (score None) and ranks last."""
    scored = []
    for c in candidates(tokens, choices, prefilter.k, seed):
        value = score(c) if allowed is None or allowed(c) else None
        scored.append({"tokens": c, "score": value if value is not None and math.isfinite(value) else None})
    def rank(i: int) -> tuple[float, int]:
        value = scored[i]["score"]
        return (-math.inf if value is None else value, -i)

    best = max(range(len(scored)), key=rank)
    return list(scored[best]["tokens"]), scored
