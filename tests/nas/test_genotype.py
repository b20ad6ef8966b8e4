"""Genotype → network → JSON round trip, and bad genotypes → ConfigError naming block and value."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nas.genotype import load_genotype, save_genotype, unused_states, validate_genotype
from cnnlab.nas.nasnet import NASNetwork
from cnnlab.nas.spaces import make_space

GENOTYPE = {
    "space": "nasnet",
    "normal": [{"inputs": [0, 1], "ops": ["sep_conv_3x3", "identity"]},
               {"inputs": [1, 2], "ops": ["conv_1x7_7x1", "max_pool_3x3"]}],
    "reduction": [{"inputs": [0, 1], "ops": ["identity", "max_pool_7x7"]},
                  {"inputs": [0, 2], "ops": ["sep_conv_5x5", "dil_conv_3x3"]}],
}


def test_genotype_network_json_round_trip(tmp_path):
    path = save_genotype(GENOTYPE, tmp_path / "best.json")
    loaded = load_genotype(path)
    assert loaded == GENOTYPE
    a = NASNetwork(GENOTYPE, num_classes=10, in_chans=1, C=4, N=1).eval()
    b = NASNetwork(str(path), num_classes=10, in_chans=1, C=4, N=1).eval()
    assert json.loads(json.dumps(b.genotype)) == GENOTYPE
    b.load_state_dict(a.state_dict())  # same structure: every key and shape matches
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(a(x), b(x))


def test_tokens_round_trip_through_the_space():
    space = make_space("nasnet", blocks=2)
    tokens = space.encode(GENOTYPE)
    assert space.decode(tokens) == GENOTYPE
    rng = torch.Generator().manual_seed(1)
    for _ in range(20):
        random_tokens = [int(torch.randint(c, (1,), generator=rng)) for c in space.choices]
        assert space.encode(space.decode(random_tokens)) == random_tokens
        validate_genotype(space.decode(random_tokens))


def test_cells_concatenate_unused_block_outputs():
    net = NASNetwork(GENOTYPE, num_classes=10, in_chans=1, C=4, N=1)
    assert unused_states(GENOTYPE["normal"]) == [3]  # block 0 (state 2) feeds block 1
    first_normal = net.stages[0][0]
    assert first_normal.out_channels == 4
    x = torch.randn(1, 1, 8, 8)
    s = net.stem(x)
    assert first_normal(s, s).shape == (1, 4, 8, 8)  # a normal cell keeps the resolution
    reduction = net.stages[1][0]  # the first cell of a stage reads the stage input twice
    y = first_normal(s, s)
    assert reduction.reduction and reduction(y, y).shape[-2:] == (4, 4)


def test_reduction_then_normal_uses_factorized_reduce():
    from cnnlab.nas.ops import FactorizedReduce

    net = NASNetwork(GENOTYPE, num_classes=10, in_chans=1, C=4, N=1)
    normal_after_reduction = net.stages[1][1]
    assert isinstance(normal_after_reduction.pre0, FactorizedReduce)
    assert net(torch.randn(2, 1, 7, 7)).shape == (2, 10)


@pytest.mark.parametrize(
    ("cell", "block", "key", "value", "message"),
    [
        ("normal", 1, "ops", ["conv_3x3", "conv_9x9"], r"normal cell block 1: unknown op 'conv_9x9'"),
        ("reduction", 0, "inputs", [0, 2], r"reduction cell block 0: input index 2 out of range"),
        ("normal", 1, "inputs", [-1, 0], r"normal cell block 1: input index -1 out of range"),
        ("normal", 0, "inputs", [0], r"normal cell block 0: 'inputs' must be two"),
    ],
)
def test_invalid_genotype_names_block_and_value(cell, block, key, value, message):
    bad = copy.deepcopy(GENOTYPE)
    bad[cell][block][key] = value
    with pytest.raises(ConfigError, match=message):
        NASNetwork(bad, num_classes=10, in_chans=1, C=4, N=1)


def test_bad_genotype_file_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_genotype(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_genotype(tmp_path / "bad.json")
