"""Every registered network: optimize_for_inference keeps its outputs (BatchNorm randomised first)."""

from __future__ import annotations

import pytest
import torch

import cnnlab
from cnnlab.infer import optimize_for_inference

IMAGE = 32  # small; raised to a network's own minimum where it has one


@pytest.mark.parametrize("name", cnnlab.list_models())
def test_zoo_net_optimized_matches_eager(name, bn_tools):
    model = bn_tools.randomise(cnnlab.create_model(name, num_classes=10)).eval()
    batchnorms = bn_tools.count(model)
    size = max(IMAGE, getattr(model, "min_input_size", 1))
    x = torch.randn(1, getattr(model, "in_chans", 3), size, size)
    fast = optimize_for_inference(model, x, backend="torch", channels_last=True)
    info = fast.cnnlab_inference_info
    assert bn_tools.count(model) == batchnorms  # the original keeps its layers
    assert info.fold.trace_error is None, info.fold.trace_error  # the zoo is fx-traceable
    assert len(info.fold.folded) > 0 or bn_tools.count(model) == 0
    with torch.no_grad():
        bn_tools.assert_close(fast(x), model(x))
