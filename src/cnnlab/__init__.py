"""cnnlab: take any CNN apart, understand every number in it, rebuild it from units and blocks,
compare it, and search for a better one.

Layers (imports go one way, top to bottom): ``arith`` → ``units`` → ``blocks`` → ``nets``;
``analysis`` (any nn.Module, never imports ``nets``); ``data`` → ``train``; ``nas``; ``compare``;
``infer``; and a thin ``cli``. Heavy sub-packages are imported lazily, so ``import cnnlab`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from cnnlab.errors import ConfigError

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    "arith": "cnnlab.arith",
    "units": "cnnlab.units",
    "blocks": "cnnlab.blocks",
    "nets": "cnnlab.nets",
    "analysis": "cnnlab.analysis",
    "data": "cnnlab.data",
    "train": "cnnlab.train",
    "nas": "cnnlab.nas",
    "compare": "cnnlab.compare",
    "infer": "cnnlab.infer",
    # registry
    "create_model": "cnnlab.nets.registry",
    "create_model_from_spec": "cnnlab.nets.registry",
    "list_models": "cnnlab.nets.registry",
    "register_model": "cnnlab.nets.registry",
    "model_info": "cnnlab.nets.registry",
    # analysis
    "inspect": "cnnlab.analysis",
    "empirical_receptive_field": "cnnlab.analysis",
    "effective_receptive_field": "cnnlab.analysis.effective_rf",
    "profile": "cnnlab.analysis.profile",
    "explore": "cnnlab.explore",
    "stage_table": "cnnlab.api",
    # inference
    "optimize_for_inference": "cnnlab.infer",
    "export_onnx": "cnnlab.infer",
}

__all__ = ["ConfigError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
    module = importlib.import_module(target)
    value = module if target == f"cnnlab.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
