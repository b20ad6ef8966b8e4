"""DropPath: stochastic depth per sample (Huang et al. 2016)."""

from __future__ import annotations

import pytest
import torch

from cnnlab import ConfigError
from cnnlab.units import DropPath, drop_path


def test_eval_and_zero_probability_are_identity():
    x = torch.randn(8, 3, 4, 4)
    assert DropPath(0.5).eval()(x) is x
    assert DropPath(0.0).train()(x) is x


def test_drops_whole_samples_and_rescales_the_rest():
    drop_prob = 0.3
    x = torch.rand(4000, 2, 3) + 0.5
    y = DropPath(drop_prob).train()(x)
    dropped = (y == 0).flatten(1).all(dim=1)
    kept = ~dropped
    assert ((y == 0).flatten(1).any(dim=1) == dropped).all()  # all or nothing per sample
    torch.testing.assert_close(y[kept], x[kept] / (1 - drop_prob))
    assert abs(dropped.float().mean().item() - drop_prob) < 0.04  # binomial sd ~ 0.007


def test_train_mean_is_preserved():
    x = torch.ones(40_000, 1)
    y = drop_path(x, 0.2, training=True)
    assert abs(y.mean().item() - 1.0) < 0.02  # sd of the mean: sqrt(0.2 / 0.8 / 40000) ~ 0.0025


def test_equals_torchvision_stochastic_depth_row_mode():
    ops = pytest.importorskip("torchvision.ops")
    x = torch.randn(64, 3, 2, 2)
    torch.manual_seed(1)
    ours = drop_path(x, 0.25)
    torch.manual_seed(1)
    theirs = ops.stochastic_depth(x, 0.25, mode="row", training=True)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, "0.1", None, True])
def test_bad_probability(bad):
    with pytest.raises(ConfigError, match="DropPath: drop_prob"):
        DropPath(bad)
    with pytest.raises(ConfigError, match="drop_prob"):
        drop_path(torch.zeros(2, 2), bad)
