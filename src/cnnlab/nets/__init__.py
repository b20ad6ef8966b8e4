"""Networks: stage tables, one builder per family, and the registry (``create_model``, ``list_models``)."""

from __future__ import annotations

from typing import Any

from cnnlab.nets.registry import create_model, create_model_from_spec, list_models, model_info, register_model

__all__ = ["create_model", "create_model_from_spec", "list_models", "model_info", "register_model",
           "zoo_table_markdown", "zoo_rows"]


def __getattr__(name: str) -> Any:
    if name in ("zoo_table_markdown", "zoo_rows"):
        from cnnlab.nets import zoo

        return getattr(zoo, name)
    raise AttributeError(f"module 'cnnlab.nets' has no attribute {name!r}")
