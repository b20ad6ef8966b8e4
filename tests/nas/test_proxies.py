"""Zero-cost proxies held against hand-computed values (SynFlow on a two-layer linear network in closed form, the
NASWOT kernel of a known activation pattern, the Jacobian-correlation score of two known rows, the gradient
saliencies of one softmax layer), against the float64 definition (the forward-mode SynFlow of NB201 cells), against
scipy (rank correlation), and for determinism, an untouched model and one-line errors."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import typer
from torch import nn
from typer.testing import CliRunner

import cnnlab
from cnnlab.cli import proxies_cmd
from cnnlab.errors import ConfigError
from cnnlab.nas.nb201_arch import parse_arch
from cnnlab.nas.nb201_table import NB201Table
from cnnlab.nas.proxies import (
    DATA_FREE,
    PROXIES,
    fisher,
    grad_norm,
    jacob_cov,
    macs,
    naswot,
    params,
    snip,
    synflow,
)
from cnnlab.nas.proxies.correlation import spearman
from cnnlab.nas.proxies.jacob_cov import K, jacobian_correlation_score
from cnnlab.nas.proxies.nb201 import build_cell, check_space, sample_cells, score_cells, synflow_cells
from cnnlab.nas.proxies.nb201_synflow import flat_weights, nb201_synflow, nb201_weights, weights_of
from cnnlab.nas.proxies.registry import get_proxy, parse_proxies

torch.set_num_threads(1)


def _linear(weight, bias=None) -> nn.Linear:
    weight = torch.tensor(weight, dtype=torch.float32)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


# ---- SynFlow ------------------------------------------------------------------------------------------------
W1 = [[1.0, -2.0], [3.0, 0.5], [-1.0, 1.0]]
W2 = [[2.0, -1.0, 0.5]]
# R = 1ᵀ|W2||W1|1 = 2·3 + 1·3.5 + 0.5·2 = 10.5; each layer's Σ θ ∂R/∂θ is R (Euler: R is linear in each layer's
# weights), so SynFlow = 2R = 21 whatever the signs, the bias or a BatchNorm in between.
SYNFLOW_TWO_LAYERS = 21.0


def test_synflow_of_a_two_layer_linear_network_is_twice_the_path_sum():
    net = nn.Sequential(_linear(W1), nn.ReLU(), _linear(W2, bias=[-4.0]))
    assert synflow(net, torch.randn(5, 2)) == pytest.approx(SYNFLOW_TWO_LAYERS, rel=1e-12)


def test_synflow_turns_batchnorm_off_and_leaves_the_model_alone():
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.fill_(-7.0)
        bn.running_mean.fill_(5.0)
    net = nn.Sequential(_linear(W1), bn, nn.ReLU(), _linear(W2)).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert synflow(net, torch.randn(4, 2)) == pytest.approx(SYNFLOW_TWO_LAYERS, rel=1e-12)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.training and net[0].weight.dtype == torch.float32 and net[0].weight.grad is None


def test_synflow_of_a_network_whose_weights_never_reach_the_output_is_zero():
    class Cut(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x).detach()

    assert synflow(Cut(), torch.zeros(1, 2)) == 0.0


@pytest.mark.parametrize(("index", "dataset"), [(6111, "cifar10"), (11472, "cifar100"), (1835, "imagenet16-120"),
                                               (4166, "cifar10")])  # C10 optimum, ResNet cell, all skip, dead edges
def test_the_weights_drawn_for_the_fast_pass_are_those_of_the_built_network(index, dataset):
    arch = NB201Table.load().arch(index)
    classes = {"cifar10": 10, "cifar100": 100, "imagenet16-120": 120}[dataset]
    torch.manual_seed(11)
    drawn = flat_weights(nb201_weights(parse_arch(arch), classes, C=4, N=2))
    torch.manual_seed(11)
    built = flat_weights(weights_of(cnnlab.create_model("nb201", arch=arch, num_classes=classes, C=4, N=2)))
    assert len(drawn) == len(built)
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(drawn, built, strict=True))


@pytest.mark.parametrize(("index", "side"), [(6111, 32), (11472, 32), (1835, 16), (4166, 32), (8614, 16)])
def test_the_float32_forward_pass_gives_the_float64_synflow(index, side):
    net = build_cell(index, C=4, N=1)
    ops = parse_arch(NB201Table.load().arch(index))
    reference = synflow(net, torch.zeros(1, 3, side, side))
    assert nb201_synflow(ops, weights_of(net), side) == pytest.approx(reference, rel=1e-5)


def test_the_float32_pass_at_full_size_and_of_a_disconnected_cell():
    for index in (6111, 1651):  # the largest scores (~1e49 at C=16, N=5, past float32 without the scaling); all none
        net = build_cell(index)
        reference = synflow(net, torch.zeros(1, 3, 32, 32))
        assert nb201_synflow(parse_arch(NB201Table.load().arch(index)), weights_of(net)) == \
            pytest.approx(reference, rel=1e-5)
    assert reference == 0.0
    assert synflow_cells([6111])[0] == pytest.approx(synflow(build_cell(6111), torch.zeros(1, 3, 32, 32)), rel=1e-5)


def test_with_iso_a_class_scores_alike_and_a_cell_scores_the_same_in_any_sample():
    table = NB201Table.load()
    members = np.flatnonzero(table.iso_class == table.iso(4166))
    assert len(members) >= 2
    scores = synflow_cells([int(members[0]), int(members[-1]), 6111], C=4, N=1, iso=True)
    assert scores[0] == scores[1] > 0
    own = synflow_cells([int(members[0]), int(members[-1])], C=4, N=1)  # each on its own network
    assert own[0] != own[1] and own[0] == scores[0]
    assert synflow_cells([6111], C=4, N=1)[0] == scores[2]
    assert synflow_cells([6111], C=4, N=1, seed=1)[0] != scores[2]


# ---- NASWOT -------------------------------------------------------------------------------------------------
def test_naswot_is_the_log_determinant_of_the_hand_computed_kernel():
    # pre-activations W x for x = (1, -1), (-1, 2), (2, 1): (1, -1, 0), (-1, 2, 1), (2, 1, 3)
    # codes (input > 0): 100, 011, 111; K_ij = 3 - Hamming(c_i, c_j) = [[3, 0, 1], [0, 3, 2], [1, 2, 3]], det = 12
    net = nn.Sequential(_linear([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), nn.ReLU())
    x = torch.tensor([[1.0, -1.0], [-1.0, 2.0], [2.0, 1.0]])
    assert naswot(net, (x, torch.zeros(3, dtype=torch.long))) == pytest.approx(math.log(12.0), rel=1e-12)
    # a second ReLU on the same pattern adds the same kernel: det(2K) = 8 · 12
    twice = nn.Sequential(_linear([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), nn.ReLU(), nn.ReLU())
    assert naswot(twice, x) == pytest.approx(math.log(96.0), rel=1e-12)


def test_naswot_of_two_images_with_one_pattern_is_minus_infinity():
    net = nn.Sequential(_linear([[1.0, 0.0], [0.0, 1.0]]), nn.ReLU())
    assert naswot(net, torch.tensor([[1.0, 2.0], [3.0, 4.0]])) == -math.inf


# ---- jacob_cov ----------------------------------------------------------------------------------------------
def test_jacobian_correlation_score_of_two_known_rows():
    # rows (1, 2, 3) and (1, 3, 2) correlate at r = 1/2: eigenvalues 1 ± r
    expected = -sum(math.log(v + K) + 1.0 / (v + K) for v in (1.5, 0.5))
    assert jacobian_correlation_score(np.array([[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]])) == pytest.approx(expected)
    assert jacobian_correlation_score(np.array([[1.0, 1.0], [1.0, 3.0]])) == -math.inf  # a row without variance


def test_jacob_cov_reads_the_input_gradient_of_each_image():
    # y = W x: every image's Jacobian is 1ᵀW = (3, -1, 2), so all rows correlate at 1: eigenvalues (2, 0)
    net = _linear([[1.0, -2.0, 0.0], [2.0, 1.0, 2.0]])
    expected = -sum(math.log(v + K) + 1.0 / (v + K) for v in (2.0, 0.0))
    assert jacob_cov(net, torch.randn(2, 3)) == pytest.approx(expected, rel=1e-9)


# ---- snip, grad_norm, fisher on one softmax layer ------------------------------------------------------------
def test_gradient_saliencies_of_one_softmax_layer_by_hand():
    # z = I x = (1, 2), label 0: ∂L/∂z = softmax(z) - e0 = (-q, q), q = e / (1 + e); ∂L/∂W = (∂L/∂z) xᵀ
    net, x, y = _linear([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    q = math.e / (1 + math.e)
    assert grad_norm(net, (x, y)) == pytest.approx(math.sqrt(10) * q, rel=1e-6)  # ‖(-q, q)‖ · ‖(1, 2)‖
    assert snip(net, (x, y)) == pytest.approx(3 * q, rel=1e-6)  # |1 · (-q) · 1| + |1 · q · 2|
    # F_k = ½ (z_k ∂L/∂z_k)² = ½ q² (1, 4), broadcast over the 2 weights of each output channel
    assert fisher(net, (x, y)) == pytest.approx(2 * 0.5 * q * q * (1 + 4), rel=1e-6)


def test_the_proxies_that_read_labels_refuse_a_batch_without_them():
    with pytest.raises(ConfigError, match="snip reads labels"):
        snip(_linear([[1.0]]), torch.ones(2, 1))
    with pytest.raises(ConfigError, match="float images"):
        naswot(_linear([[1.0]]), (torch.ones(2, 1, dtype=torch.long), torch.zeros(2)))


# ---- params, MACs -------------------------------------------------------------------------------------------
def test_params_and_macs_of_one_convolution():
    conv = nn.Conv2d(3, 4, 3, bias=False)  # 4·3·3·3 = 108 weights, applied at 6x6 output positions of an 8x8 input
    assert params(conv, torch.zeros(2, 3, 8, 8)) == 108
    assert macs(conv, torch.zeros(2, 3, 8, 8)) == 108 * 36


# ---- every proxy on an NB201 cell ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 32, 32, generator=generator), torch.randint(0, 10, (8,), generator=generator)


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_every_proxy_scores_an_nb201_cell_deterministically_and_leaves_it_alone(name, batch):
    net = build_cell(6111, C=4, N=1).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first, second = PROXIES[name](net, batch), PROXIES[name](net, batch)
    assert math.isfinite(first) and first == second
    assert first == PROXIES[name](build_cell(6111, C=4, N=1), batch)  # the same seeded initialisation
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not any(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())


def test_score_cells_gives_each_proxy_one_value_per_cell(batch):
    scores = score_cells([11472, 6111], ["params", "snip", "synflow"], batch=batch, C=4, N=1)
    assert list(scores) == ["params", "snip", "synflow"]
    assert all(len(v) == 2 for v in scores.values())
    assert scores["params"][1] > scores["params"][0]  # the optimum has two more conv edges than the ResNet cell
    with pytest.raises(ConfigError, match="read data"):
        score_cells([6111], ["naswot"], C=4, N=1)


def test_the_sample_is_seeded_and_distinct():
    a = sample_cells(50, seed=3)
    assert np.array_equal(a, sample_cells(50, seed=3)) and len(set(a.tolist())) == 50
    assert not np.array_equal(a, sample_cells(50, seed=4))
    assert len(sample_cells(0, seed=0)) == 15_625


# ---- rank correlation ---------------------------------------------------------------------------------------
def test_spearman_matches_scipy_with_ties_and_minus_infinity():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)
    b = a + rng.normal(0, 2, 200)
    a[:3] = -np.inf
    assert spearman(a, b) == pytest.approx(stats.spearmanr(np.where(np.isinf(a), -1e9, a), b).statistic, abs=1e-12)


# ---- errors -------------------------------------------------------------------------------------------------
def test_unknown_proxies_and_spaces_are_config_errors():
    with pytest.raises(ConfigError, match="'synflw'"):
        get_proxy("synflw")
    with pytest.raises(ConfigError, match="'zen'"):
        parse_proxies("synflow,zen")
    with pytest.raises(ConfigError, match="at least one proxy"):
        parse_proxies(" , ")
    assert parse_proxies("params, synflow,params") == ["params", "synflow"]
    with pytest.raises(ConfigError, match="'nasnet'"):
        check_space("nasnet")
    assert DATA_FREE <= set(PROXIES)


def _app() -> typer.Typer:
    app = typer.Typer()
    proxies_cmd.register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


@pytest.mark.parametrize(("args", "named"), [
    (["--proxy", "synflow,zen"], "'zen'"),
    (["--space", "nasnet"], "'nasnet'"),
    (["--dataset", "cifar1"], "'cifar1'"),
    (["--sample", "-1"], "--sample"),
])
def test_the_command_refuses_bad_input_with_one_line(args, named, tmp_path):
    result = CliRunner().invoke(_app(), ["proxies", *args, "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_the_command_writes_the_same_csv_twice(tmp_path):
    args = ["proxies", "--proxy", "params,synflow", "--sample", "3", "--seed", "5", "--no-progress"]
    first = CliRunner().invoke(_app(), [*args, "--out", str(tmp_path / "a.csv")])
    assert first.exit_code == 0, first.output
    CliRunner().invoke(_app(), [*args, "--out", str(tmp_path / "b.csv")])
    text = (tmp_path / "a.csv").read_text()
    assert text == (tmp_path / "b.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    table = NB201Table.load()
    assert [int(r["index"]) for r in rows] == sample_cells(3, 5).tolist()
    for r in rows:
        assert r["arch"] == table.arch(int(r["index"])) and int(r["iso"]) == table.iso(int(r["index"]))
        assert float(r["cifar10_accuracy"]) == pytest.approx(table.accuracy(int(r["index"]), "cifar10"), abs=1e-4)
        assert float(r["params"]) > 0 and float(r["synflow"]) >= 0
    assert "Spearman" in first.output
