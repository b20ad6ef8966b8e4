"""The proxies by name: one signature ``score(model, batch) -> float`` each (higher = predicted better)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cnnlab.arith.checks import require_choice
from cnnlab.errors import ConfigError
from cnnlab.nas.proxies.common import Batch
from cnnlab.nas.proxies.jacob_cov import jacob_cov
from cnnlab.nas.proxies.naswot import naswot
from cnnlab.nas.proxies.pruning import fisher, grad_norm, snip
from cnnlab.nas.proxies.size import macs, params
from cnnlab.nas.proxies.synflow import synflow

__all__ = ["PROXIES", "DATA_FREE", "SOURCES", "get_proxy", "parse_proxies"]

Score = Callable[[nn.Module, Batch], float]

PROXIES: dict[str, Score] = {
    "synflow": synflow,
    "naswot": naswot,
    "jacob_cov": jacob_cov,
    "snip": snip,
    "grad_norm": grad_norm,
    "fisher": fisher,
    "params": params,
    "macs": macs,
}

# the proxies that read only the batch's shape
DATA_FREE = frozenset({"synflow", "params", "macs"})

SOURCES = {
    "synflow": "Tanaka et al. 2020 (NeurIPS), scored as Abdelfattah et al. 2021",
    "naswot": "Mellor et al. 2021 (ICML), Sec. 3",
    "jacob_cov": "Mellor et al. 2020 (arXiv:2006.04647 v1), as Abdelfattah et al. 2021",
    "snip": "Lee et al. 2019 (ICLR), as Abdelfattah et al. 2021",
    "grad_norm": "Abdelfattah et al. 2021 (ICLR)",
    "fisher": "Theis et al. 2018 / Turner et al. 2020, as Abdelfattah et al. 2021",
    "params": "baseline: parameter count",
    "macs": "baseline: multiply-accumulates (cnnlab.inspect)",
}


def get_proxy(name: str, where: str = "proxy") -> Score:
    """The score function of ``name``; ConfigError naming the known proxies."""
    require_choice("proxy", name, tuple(PROXIES), where)
    return PROXIES[name]


def parse_proxies(text: str, where: str = "--proxy") -> list[str]:
    """``"synflow,naswot,params"`` → the names, checked, without repeats, in the order given."""
    names = [part.strip() for part in str(text).split(",") if part.strip()]
    if not names:
        raise ConfigError(f"{where}: name at least one proxy of {list(PROXIES)}, got {text!r}")
    for name in names:
        get_proxy(name, where)
    return list(dict.fromkeys(names))
