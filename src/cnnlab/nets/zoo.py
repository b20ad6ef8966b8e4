"""The zoo as a table: name, family, parameters and paper of every registered model.

Parameters are counted on the meta device (no memory, no initialisation), so listing is quick.
"""

from __future__ import annotations

from typing import Any

import torch

from cnnlab.nets.registry import create_model, list_models, model_info

__all__ = ["count_params", "zoo_rows", "zoo_table_markdown"]


def count_params(name: str, **kwargs: Any) -> int:
    """Parameters of a registered model with default settings, built on the meta device."""
    with torch.device("meta"):
        model = create_model(name, **kwargs)
    return sum(p.numel() for p in model.parameters())


def zoo_rows(pattern: str = "*") -> list[dict[str, Any]]:
    rows = []
    for name in list_models(pattern):
        info = model_info(name)
        rows.append({"name": name, "family": info["family"], "params": count_params(name),
                     "paper": info["paper"]})
    return rows


def zoo_table_markdown(pattern: str = "*") -> str:
    """A markdown table of the registry (the README embeds it)."""
    lines = ["| model | family | params | paper |", "|---|---|---:|---|"]
    for row in zoo_rows(pattern):
        lines.append(f"| `{row['name']}` | {row['family']} | {row['params']:,} | {row['paper']} |")
    return "\n".join(lines) + "\n"
