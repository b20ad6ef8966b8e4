"""Neural architecture search (lecture part "NAS"): the 13-op set, NASNet cells and genotypes,
randomly wired networks, the NAS-Bench-201 space with its accuracy table, and random / REINFORCE /
aging-evolution / local-search / TPE strategies on an Optuna engine (cells of NAS-Bench-201 scored by the
table in seconds, or replayed thousands of times with :func:`replay`).

Importing this package is light; the heavy modules are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "OPS": "cnnlab.nas.ops",
    "OP_NAMES": "cnnlab.nas.ops",
    "LECTURE_OPS": "cnnlab.nas.ops",
    "make_op": "cnnlab.nas.ops",
    "Cell": "cnnlab.nas.cells",
    "NASNetwork": "cnnlab.nas.nasnet",
    "RandWireNet": "cnnlab.nas.randwire",
    "NB201Network": "cnnlab.nas.nb201",
    "NB201Table": "cnnlab.nas.nb201_table",
    "validate_genotype": "cnnlab.nas.genotype",
    "load_genotype": "cnnlab.nas.genotype",
    "save_genotype": "cnnlab.nas.genotype",
    "validate_wiring": "cnnlab.nas.randwire",
    "SPACES": "cnnlab.nas.spaces",
    "SearchSpace": "cnnlab.nas.space_base",
    "make_space": "cnnlab.nas.spaces",
    "build_network": "cnnlab.nas.spaces",
    "make_strategy": "cnnlab.nas.strategies",
    "search": "cnnlab.nas.run",
    "search_report": "cnnlab.nas.report",
    "replay": "cnnlab.nas.replay",
    "random_search_expected": "cnnlab.nas.replay",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'cnnlab.nas' has no attribute {name!r}")
    value = getattr(importlib.import_module(target), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
