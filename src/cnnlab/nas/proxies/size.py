"""The baselines every proxy is measured against: the network's size. ``params`` counts its parameters, ``macs``
its multiply-accumulates for one image of the batch's shape, as :func:`cnnlab.inspect` counts them (on the meta
device: nothing is computed and the model is not touched). Neither reads data."""

from __future__ import annotations

from torch import nn

from cnnlab.nas.proxies.common import Batch, inputs_of

__all__ = ["params", "macs"]


def params(model: nn.Module, batch: Batch) -> float:
    """Number of parameters (each shared tensor once)."""
    return float(sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()))


def macs(model: nn.Module, batch: Batch) -> float:
    """Multiply-accumulates of one forward pass on one image of the batch's shape (``cnnlab.inspect``)."""
    from cnnlab.analysis import inspect

    shape = tuple(inputs_of(batch, "macs").shape[1:])
    return float(inspect(model, input_size=(1, *shape)).macs)
