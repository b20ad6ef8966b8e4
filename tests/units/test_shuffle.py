"""Channel shuffle (ShuffleNet, Zhang et al. 2018) against its definition and torch's own op."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab import ConfigError
from cnnlab.units import ChannelShuffle, channel_shuffle


@pytest.mark.parametrize(("channels", "groups"), [(12, 3), (12, 4), (8, 1), (8, 8), (6, 2)])
def test_equals_reshape_transpose_and_torch(channels, groups):
    x = torch.randn(2, channels, 3, 5)
    # the paper's definition: reshape to (g, n), transpose, flatten
    definition = x.view(2, groups, channels // groups, 3, 5).permute(0, 2, 1, 3, 4).reshape(2, channels, 3, 5)
    torch.testing.assert_close(ChannelShuffle(groups)(x), definition, rtol=0, atol=0)
    torch.testing.assert_close(channel_shuffle(x, groups), nn.ChannelShuffle(groups)(x), rtol=0, atol=0)


@pytest.mark.parametrize(("channels", "groups"), [(12, 3), (24, 4)])
def test_is_a_permutation_undone_by_the_transposed_shuffle(channels, groups):
    tags = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)
    shuffled = channel_shuffle(tags, groups)
    assert sorted(shuffled.flatten().tolist()) == tags.flatten().tolist()
    assert not torch.equal(shuffled, tags)
    torch.testing.assert_close(channel_shuffle(shuffled, channels // groups), tags)


def test_bad_groups():
    with pytest.raises(ConfigError, match="ChannelShuffle.*groups"):
        ChannelShuffle(0)
    with pytest.raises(ConfigError, match="ChannelShuffle.*channels=10 is not divisible by groups=4"):
        ChannelShuffle(4, channels=10)
    with pytest.raises(ConfigError, match="channels=10 is not divisible by groups=4"):
        ChannelShuffle(4)(torch.zeros(1, 10, 2, 2))
