"""Top-level conveniences that join layers: they accept a registered model name where the layer
below takes a module. (``cnnlab.analysis`` itself never imports the zoo.)"""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["resolve_model", "stage_table"]


def resolve_model(model_or_name: nn.Module | str, **model_kwargs: Any) -> nn.Module:
    """Return ``model_or_name`` itself, or build the registered model of that name.

    A name is built on the meta device: analysis needs shapes, not weights, so even the largest
    network costs no memory.
    """
    if isinstance(model_or_name, nn.Module):
        return model_or_name
    import torch

    from cnnlab.nets.registry import create_model

    with torch.device("meta"):
        return create_model(model_or_name, **model_kwargs)


def stage_table(
    model_or_name: nn.Module | str, input_size: object = None, **model_kwargs: Any
) -> str:
    """The paper-style stage table (e.g. ResNet Table 1) of a module or a registered model name."""
    from cnnlab.analysis import stage_table as module_stage_table

    return module_stage_table(resolve_model(model_or_name, **model_kwargs), input_size)
