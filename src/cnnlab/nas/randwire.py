"""Randomly wired networks (Xie et al. 2019, "Exploring Randomly Wired Neural Networks", arXiv:1904.01569).

A random undirected graph from a classical generator (ER(P), BA(M), WS(K, P); networkx) becomes a
DAG by orienting every edge from the smaller to the larger node index; networkx's labels already are
the paper's orderings (BA: the initial nodes, then each new node; WS: clockwise around the ring; ER:
arbitrary). Each node takes a weighted sum of its inputs with positive weights ``sigmoid(w)``, then
ReLU → 3x3 separable conv → BN (Sec. 3.2). Nodes without predecessors read the stage input with
stride 2; the stage output is the average of the nodes without successors, so every stage has one
input and one output. Table 1's small regime: conv1, conv2 (3x3 stride 2), three random stages with
N nodes and C, 2C, 4C channels, 1x1 conv to 1280, pool, fc.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import torch
from torch import nn

from cnnlab.arith.checks import require_choice, require_int, require_positive
from cnnlab.errors import ConfigError
from cnnlab.nas.space_base import SearchSpace
from cnnlab.nets.base import ClassifierHead, StageStack, ZooNet, check_common
from cnnlab.nets.paper_table import convs, kernel, table_row
from cnnlab.units import ConvNormAct

__all__ = ["GRAPH_MODELS", "MIN_NODES", "MAX_NODES", "validate_wiring", "stage_graph", "RandWireStage", "RandWireNet",
           "randwire_paper_table", "RandWireSpace"]

GRAPH_MODELS = ("ER", "BA", "WS")
# a stage needs 2 nodes for a graph to have an edge; Xie et al. 2019 use N=32 (Sec. 4), 4x that is
# the cap (an N=128 child takes seconds to build and inspect before it trains at all)
MIN_NODES, MAX_NODES = 2, 128
RANDWIRE_P = (0.1, 0.25, 0.5, 0.75, 0.9)
RANDWIRE_M = (1, 2, 3, 4, 5)
RANDWIRE_K = (2, 4, 6)
RANDWIRE_SEEDS = (0, 1, 2, 3)


def _probability(genotype: dict[str, Any]) -> float:
    p = genotype.get("P")
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"randwire genotype {genotype.get('graph')}: P must be in [0, 1], got {p!r}")
    return float(p)


def validate_wiring(genotype: object) -> dict[str, Any]:
    """Check a randwire genotype: generator and parameters, or explicit per-stage edge lists."""
    if not isinstance(genotype, dict):
        raise ConfigError(f"randwire genotype must be a JSON object, got {type(genotype).__name__}")
    g = dict(genotype)
    if g.setdefault("space", "randwire") != "randwire":
        raise ConfigError(f"randwire genotype 'space' must be 'randwire', got {g['space']!r}")
    if "stages" in g:
        stages = g["stages"]
        if not isinstance(stages, list) or not stages:
            raise ConfigError(f"randwire genotype 'stages' must be a non-empty list, got {stages!r}")
        for s, stage in enumerate(stages):
            _explicit_graph(stage, f"randwire genotype stage {s}")
        return g
    require_choice("graph", g.get("graph"), GRAPH_MODELS, "randwire genotype")
    n = require_positive("nodes", g.get("nodes", 32), "randwire genotype")
    g["nodes"] = n
    g["seed"] = int(g.get("seed", 0))
    if g["graph"] in ("ER", "WS"):
        g["P"] = _probability(g)
    if g["graph"] == "BA":
        m = require_positive("M", g.get("M"), "randwire genotype BA")
        if m >= n:
            raise ConfigError(f"randwire genotype BA: M={m} must be smaller than nodes={n}")
    if g["graph"] == "WS":
        k = require_positive("K", g.get("K"), "randwire genotype WS")
        if k >= n:
            raise ConfigError(f"randwire genotype WS: K={k} must be smaller than nodes={n}")
    return g


def _explicit_graph(stage: object, where: str) -> nx.DiGraph:
    if not isinstance(stage, dict) or "edges" not in stage:
        raise ConfigError(f"{where}: expected {{'nodes': n, 'edges': [[u, v], ...]}}, got {stage!r}")
    graph = nx.DiGraph()
    graph.add_nodes_from(range(require_positive("nodes", stage.get("nodes", 1), where)))
    for edge in stage["edges"]:
        if not isinstance(edge, list | tuple) or len(edge) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v in graph for v in edge
        ):
            raise ConfigError(f"{where}: edge {edge!r} must be a pair of node indices < {len(graph)}")
        graph.add_edge(*edge)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = [u for u, _ in nx.find_cycle(graph)]
        raise ConfigError(f"{where}: the wired graph has a cycle {cycle + cycle[:1]}; it must be a DAG")
    return graph


def stage_graph(genotype: dict[str, Any], stage: int) -> nx.DiGraph:
    """The DAG of stage ``stage``: explicit edges, or a fresh sample seeded with ``seed + stage``."""
    if "stages" in genotype:
        stages = genotype["stages"]
        return _explicit_graph(stages[min(stage, len(stages) - 1)], f"randwire genotype stage {stage}")
    n, seed, model = genotype["nodes"], genotype["seed"] + stage, genotype["graph"]
    if model == "ER":
        undirected = nx.erdos_renyi_graph(n, genotype["P"], seed=seed)
    elif model == "BA":
        undirected = nx.barabasi_albert_graph(n, genotype["M"], seed=seed)
    else:
        undirected = nx.watts_strogatz_graph(n, genotype["K"], genotype["P"], seed=seed)
    dag = nx.DiGraph()
    dag.add_nodes_from(range(n))
    dag.add_edges_from((min(u, v), max(u, v)) for u, v in undirected.edges())
    return dag


class _Node(nn.Module):
    """Weighted sum of inputs (sigmoid weights) → ReLU → separable 3x3 conv → BN."""

    def __init__(self, num_inputs: int, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_inputs)) if num_inputs > 1 else None
        self.relu = nn.ReLU()
        self.depthwise = ConvNormAct(in_channels, in_channels, 3, stride=stride, groups=in_channels,
                                     norm_layer=None, act_layer=None)
        self.pointwise = ConvNormAct(in_channels, channels, 1, act_layer=None)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if self.weight is None:
            x = inputs[0]
        else:
            w = torch.sigmoid(self.weight)
            x = sum(w[i] * t for i, t in enumerate(inputs))
        return self.pointwise(self.depthwise(self.relu(x)))


class RandWireStage(nn.Module):
    """One randomly wired stage: a DAG of nodes with one input (the stage input) and one output."""

    def __init__(self, graph: nx.DiGraph, in_channels: int, channels: int) -> None:
        super().__init__()
        self.order = list(nx.lexicographical_topological_sort(graph))
        self.preds = {v: sorted(graph.predecessors(v)) for v in self.order}
        self.sinks = [v for v in self.order if graph.out_degree(v) == 0]
        self.nodes = nn.ModuleDict()
        for v in self.order:
            preds = self.preds[v]
            source = in_channels if not preds else channels
            self.nodes[str(v)] = _Node(max(len(preds), 1), source, channels, 1 if preds else 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: dict[int, torch.Tensor] = {}
        for v in self.order:
            preds = self.preds[v]
            out[v] = self.nodes[str(v)]([out[u] for u in preds] if preds else [x])
        return torch.stack([out[v] for v in self.sinks]).mean(0)


class RandWireNet(ZooNet):
    """conv1 → conv2 → random stages (C, 2C, 4C ...) → 1x1 conv → pool → fc (Xie et al., Table 1)."""

    def __init__(
        self,
        genotype: dict[str, Any],
        num_classes: int = 1000,
        in_chans: int = 3,
        C: int = 78,
        stem_strides: tuple[int, int] = (2, 2),
        num_stages: int = 3,
        head_channels: int = 1280,
        drop_rate: float = 0.0,
    ) -> None:
        genotype = validate_wiring(genotype)
        for name, value in (("C", C), ("num_stages", num_stages), ("head_channels", head_channels)):
            require_positive(name, value, "randwire")
        check_common("randwire", num_classes, in_chans, drop_rate)
        stem = nn.Sequential(
            ConvNormAct(in_chans, max(C // 2, 1), 3, stride=stem_strides[0]),
            ConvNormAct(max(C // 2, 1), C, 3, stride=stem_strides[1], act_layer=None),
        )
        graphs = [stage_graph(genotype, s) for s in range(num_stages)]
        stage_specs = [{"stage": s, "channels": C * 2**s, "nodes": g.number_of_nodes(), "edges": g.number_of_edges()}
                       for s, g in enumerate(graphs)]
        stages = StageStack(C, stem_strides[0] * stem_strides[1])
        for s, spec in enumerate(stage_specs):  # every stage's input nodes have stride 2 (Xie et al., Sec. 3.3)
            stages.add(RandWireStage(graphs[s], stages.channels, spec["channels"]), spec["channels"], 2)
        head_conv = nn.Sequential(nn.ReLU(), ConvNormAct(stages.channels, head_channels, 1))
        head = ClassifierHead(stages.channels, num_classes, drop_rate, conv=head_conv, conv_features=head_channels)
        super().__init__(stem, stages, head, stage_specs=stage_specs, in_chans=in_chans)
        self.genotype = genotype
        self.paper_table = randwire_paper_table


def randwire_paper_table(model: RandWireNet) -> dict:
    """Table 1 of Xie et al. 2019, the small regime's column: conv1 and conv2 (3x3 convs), then conv3 …
    as "random wiring N, C" (nodes of the stage's graph, its channels), then the classifier."""
    rows = []
    for i, unit in enumerate(model.stem):
        conv = convs(unit)[0]
        rows.append(table_row(f"conv{i + 1}", [f"stem.{i}"],
                              cells={"op": f"{kernel(conv)} conv, {conv.out_channels}"}))
    for s, stage in enumerate(model.stages):
        width = convs(stage)[-1].out_channels
        rows.append(table_row(f"conv{len(model.stem) + s + 1}", [f"stages.{s}"],
                              cells={"op": f"random wiring {len(stage.nodes)}, {width}"}))
    head = [f"{kernel(c)} conv, {c.out_channels}-d" for c in convs(model.head)]
    head.append("global average pool")
    head += [f"{m.out_features}-d fc" for m in model.head.modules() if isinstance(m, nn.Linear)]
    rows.append(table_row("classifier", ["head"], cells={"op": "\n".join(head)}))
    return {"source": "Xie et al. 2019, Randomly Wired Neural Networks, Table 1 (small regime)", "rows": rows,
            "columns": [("stage", "name"), ("output", "output size"), ("small regime", "op")]}


class RandWireSpace(SearchSpace):
    """Tokens: generator (ER, BA, WS), P, M, K and graph seed; ``nodes`` per stage."""

    name = "randwire"

    @classmethod
    def from_options(cls, nodes: int = 8, **_: Any) -> RandWireSpace:
        nodes = require_int("--nodes", nodes, "randwire space")
        if not MIN_NODES <= nodes <= MAX_NODES:
            raise ConfigError(f"randwire space: --nodes must be in {MIN_NODES}..{MAX_NODES} nodes per stage, got "
                              f"{nodes} (Xie et al. use 32)")
        return cls((len(GRAPH_MODELS), len(RANDWIRE_P), len(RANDWIRE_M), len(RANDWIRE_K), len(RANDWIRE_SEEDS)),
                   ("graph", "P", "M", "K", "seed"), {"nodes": nodes})

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        graph, p, m, k, seed = self.check_tokens(tokens)
        nodes = self.settings["nodes"]
        genotype: dict[str, Any] = {"space": "randwire", "graph": GRAPH_MODELS[graph], "nodes": nodes,
                                    "seed": RANDWIRE_SEEDS[seed]}
        if GRAPH_MODELS[graph] in ("ER", "WS"):
            genotype["P"] = RANDWIRE_P[p]
        if GRAPH_MODELS[graph] == "BA":
            genotype["M"] = min(RANDWIRE_M[m], nodes - 1)
        if GRAPH_MODELS[graph] == "WS":
            genotype["K"] = min(RANDWIRE_K[k], nodes - 1)
        return genotype

    def encode(self, genotype: dict[str, Any]) -> list[int]:
        g = validate_wiring(genotype)

        def nearest(values: tuple, v: float) -> int:
            return min(range(len(values)), key=lambda i: abs(values[i] - v))

        return [GRAPH_MODELS.index(g["graph"]), nearest(RANDWIRE_P, g.get("P", 0.5)),
                nearest(RANDWIRE_M, g.get("M", 1)), nearest(RANDWIRE_K, g.get("K", 2)),
                nearest(RANDWIRE_SEEDS, g["seed"])]

    @classmethod
    def build(cls, genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1
              ) -> RandWireNet:
        return RandWireNet(genotype, num_classes=num_classes, in_chans=in_chans, C=C, stem_strides=(1, 1),
                           head_channels=8 * C)

    def shape_flags(self, budget: Any) -> str:
        return f"--nodes {self.settings['nodes']} "
