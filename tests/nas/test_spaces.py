"""The search spaces are classes next to their networks, listed in one table; tokens decode to genotypes
that encode back and build the space's network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nas.micro import MicroSpace
from cnnlab.nas.nasnet import NASNetSpace
from cnnlab.nas.nb201 import NB201Network, NB201Space
from cnnlab.nas.randwire import RandWireSpace
from cnnlab.nas.spaces import SPACES, build_network, make_space


def test_the_table_names_one_class_per_space():
    assert SPACES == {"nasnet": NASNetSpace, "randwire": RandWireSpace, "micro": MicroSpace, "nb201": NB201Space}
    assert make_space("nb201").size == 5**6 and make_space("micro").size == 125
    assert make_space("nasnet", blocks=2).choices[:4] == (2, 2, 13, 13)
    with pytest.raises(ConfigError, match="space must be one of"):
        make_space("darts")
    with pytest.raises(ConfigError, match="--blocks must be in 1..16"):
        make_space("nasnet", blocks=17)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_tokens_decode_encode_and_build(name):
    space = make_space(name, blocks=2, nodes=4)
    rng = np.random.default_rng(0)
    for _ in range(5):
        tokens = [int(rng.integers(c)) for c in space.choices]
        genotype = space.decode(tokens)
        assert genotype["space"] == name
        if name != "randwire":  # randwire's decode clamps M and K to the node count; its encode picks the nearest
            assert space.encode(genotype) == tokens
    net = build_network(genotype, num_classes=3, in_chans=1, C=4, N=1).eval()
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 3)


def test_the_nb201_space_is_the_benchmarks_cells():
    space = make_space("nb201")
    genotype = space.decode([3, 0, 3, 1, 0, 1])
    assert genotype == {"space": "nb201",
                        "arch": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"}
    net = build_network(genotype, num_classes=10, in_chans=3, C=16, N=5)
    assert isinstance(net, NB201Network) and sum(p.numel() for p in net.parameters()) == 559_386
    with pytest.raises(ConfigError, match="unknown op 'conv_3x3'"):
        space.encode({"space": "nb201", "arch": "|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"})
    with pytest.raises(ConfigError, match="tokens .* do not fit"):
        space.decode([5, 0, 0, 0, 0, 0])
    with pytest.raises(ConfigError, match="'space' must be one of"):
        build_network({"space": "nb101"}, num_classes=10, in_chans=3)
