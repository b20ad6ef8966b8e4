"""Randomly wired networks (Xie et al. 2019): networkx generators, DAG orientation, one input and
one output per stage, positive aggregation weights, cycles rejected."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nas.randwire import RandWireNet, RandWireStage, stage_graph, validate_wiring

GENERATORS = {
    "ER": ({"P": 0.3}, lambda n, seed: nx.erdos_renyi_graph(n, 0.3, seed=seed)),
    "BA": ({"M": 2}, lambda n, seed: nx.barabasi_albert_graph(n, 2, seed=seed)),
    "WS": ({"K": 4, "P": 0.75}, lambda n, seed: nx.watts_strogatz_graph(n, 4, 0.75, seed=seed)),
}


@pytest.mark.parametrize("model", sorted(GENERATORS))
def test_stage_graph_is_the_generator_graph_oriented_low_to_high(model):
    params, generate = GENERATORS[model]
    genotype = validate_wiring({"graph": model, "nodes": 12, "seed": 3, **params})
    dag = stage_graph(genotype, stage=1)  # stage s is seeded with seed + s
    undirected = generate(12, 4)
    assert nx.is_directed_acyclic_graph(dag)
    assert {frozenset(e) for e in dag.edges()} == {frozenset(e) for e in undirected.edges()}
    assert all(u < v for u, v in dag.edges())


@pytest.mark.parametrize("model", sorted(GENERATORS))
def test_tiny_network_forward_and_stage_shapes(model):
    params, _ = GENERATORS[model]
    net = RandWireNet({"graph": model, "nodes": 6, **params}, num_classes=10, in_chans=1, C=4,
                      stem_strides=(1, 1), head_channels=16)
    x = torch.randn(2, 1, 8, 8)
    assert net(x).shape == (2, 10)
    assert net.forward_features(x).shape == (2, 16, 1, 1)  # three stride-2 stages: 8 → 4 → 2 → 1


def test_stage_has_single_input_and_output_and_positive_weights():
    dag = nx.DiGraph([(0, 2), (1, 2), (2, 3), (2, 4)])
    stage = RandWireStage(dag, in_channels=3, channels=5)
    assert stage.sinks == [3, 4]
    assert [v for v in stage.order if not stage.preds[v]] == [0, 1]  # both read the stage input
    node = stage.nodes["2"]
    node.weight.data.fill_(-50.0)
    assert torch.all(torch.sigmoid(node.weight) > 0)
    assert stage(torch.randn(1, 3, 8, 8)).shape == (1, 5, 4, 4)


def test_cycle_in_wired_graph_is_config_error():
    bad = {"space": "randwire", "stages": [{"nodes": 3, "edges": [[0, 1], [1, 2], [2, 0]]}]}
    with pytest.raises(ConfigError, match=r"stage 0: the wired graph has a cycle"):
        validate_wiring(bad)


@pytest.mark.parametrize(
    ("genotype", "message"),
    [
        ({"graph": "XY", "nodes": 8}, "graph"),
        ({"graph": "ER", "nodes": 8, "P": 1.5}, "P must be in"),
        ({"graph": "BA", "nodes": 4, "M": 4}, "M=4"),
        ({"space": "randwire", "stages": [{"nodes": 2, "edges": [[0, 5]]}]}, r"edge \[0, 5\]"),
    ],
)
def test_bad_wiring_is_config_error(genotype, message):
    with pytest.raises(ConfigError, match=message):
        validate_wiring(genotype)


def test_explicit_dag_builds():
    genotype = {"space": "randwire", "stages": [{"nodes": 4, "edges": [[0, 1], [1, 3], [0, 2], [2, 3]]}]}
    net = RandWireNet(genotype, num_classes=3, in_chans=1, C=4, stem_strides=(1, 1), num_stages=2,
                      head_channels=8)
    assert net(torch.randn(1, 1, 8, 8)).shape == (1, 3)


def test_small_regime_parameter_count_matches_paper():
    # Xie et al. 2019, Table 2: RandWire-WS small regime (C=78) has 5.6M ± 0.1M parameters.
    with torch.device("meta"):
        net = RandWireNet({"graph": "WS", "K": 4, "P": 0.75, "nodes": 32}, num_classes=1000, C=78)
    params = sum(p.numel() for p in net.parameters())
    assert 5.5e6 <= params <= 5.7e6
