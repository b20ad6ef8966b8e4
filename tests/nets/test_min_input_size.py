"""``min_input_size`` (nets.base) computes each op's output with cnnlab.arith.sizes, the one place of the
sliding-window formula; the reference is torch: the smallest square input a chain of torch layers (or a whole
torchvision network) runs on, found by trying every size."""

from __future__ import annotations

import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import cnnlab
from cnnlab import ConfigError
from cnnlab.nets.base import min_input_size

LIMIT = 40  # sizes tried; a chain that needs more has no size for torch and for min_input_size(limit=LIMIT)


@torch.no_grad()
def smallest_accepted(forward, in_chans: int = 1) -> int | None:
    """The smallest n for which torch runs ``forward`` on a 1 x in_chans x n x n input (None: none ≤ LIMIT)."""
    for n in range(1, LIMIT + 1):
        try:
            forward(torch.zeros(1, in_chans, n, n))
        except (RuntimeError, ValueError):
            continue
        return n
    return None


def torch_layer(kernel: int, stride: int, padding: int, ceil_mode: bool) -> nn.Module:
    if ceil_mode:  # only pooling layers have a ceil mode; torch allows them padding ≤ kernel // 2
        return nn.MaxPool2d(kernel, stride, padding, ceil_mode=True)
    return nn.Conv2d(1, 1, kernel, stride, padding)


OPS = st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.booleans()).filter(
    lambda op: not op[3] or op[2] <= op[0] // 2)


@settings(max_examples=25)
@given(st.lists(OPS, min_size=1, max_size=4))
def test_chains_of_convolutions_and_ceil_mode_pools(ops):
    torch.set_num_threads(1)
    chain = nn.Sequential(*(torch_layer(*op) for op in ops))
    expected = smallest_accepted(chain)
    if expected is None:
        with pytest.raises(ConfigError, match="no input size"):
            min_input_size(ops, limit=LIMIT)
    else:
        assert min_input_size(ops, limit=LIMIT) == expected


# torchvision builds of the same networks (eval mode); their smallest input is found by trying
TORCHVISION = {
    "googlenet": lambda: torchvision.models.googlenet(init_weights=False, aux_logits=False, num_classes=10),
    "resnet18": lambda: torchvision.models.resnet18(num_classes=10),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_zoo_minimum_is_the_smallest_input_torchvision_and_our_net_accept(name):
    torch.set_num_threads(1)
    reference = smallest_accepted(TORCHVISION[name]().eval(), in_chans=3)
    model = cnnlab.create_model(name, num_classes=10).eval()
    assert model.min_input_size == reference
    assert smallest_accepted(lambda x: model.stages(model.stem(x)), in_chans=3) == reference  # check_input aside
