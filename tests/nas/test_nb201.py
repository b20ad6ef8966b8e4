"""The NAS-Bench-201 network held against the benchmark's own counts, its arch strings, and the table
shipped in the package held against the shared table it was made from and the published facts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnlab
from cnnlab.errors import ConfigError
from cnnlab.nas.nb201_arch import NB201_OPS, arch_code, arch_from_code, format_arch, nb201_params, parse_arch
from cnnlab.nas.nb201_table import DATASETS, TABLE_PATH, NB201Table

RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
C10_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
C100_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

# README of ../shared/data/nb201 (worked examples, CIFAR-10 head, 1x3x32x32): params, conv + linear MACs, the
# benchmark's "FLOPs" in M (its counter adds the linear bias: MACs + classes). NB201 paper, Table 2 ("ResNet"):
# 0.559 M params, 78.56 M FLOPs.
WORKED = [(11472, RESNET_CELL, 559_386, 78_561_920, 78.56193),
          (6111, C10_BEST, 1_073_466, 153_272_960, 153.27297)]

# README of the shared table, "Facts to check a reader against": idx, CIFAR-10, CIFAR-100, IN16-120
FACTS = [(6111, C10_BEST, 94.3733, 73.22, 46.7111),
         (9930, C100_BEST, 94.3633, 73.5133, 46.3444),
         (1651, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 10.0, 1.0, 0.8333),
         (1835, "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
          54.2967, 15.6067, 16.3222)]
# the NB201 paper's Table 5 ("optimal"): best test accuracy per dataset
OPTIMA = {"cifar10": 94.37, "cifar100": 73.51, "imagenet16-120": 47.31}

SHARED = Path(os.environ.get("CNNLAB_NB201_SOURCE", Path(__file__).resolve().parents[3] / "shared" / "data"
                             / "nb201" / "nb201_accuracy.json"))


@pytest.mark.parametrize(("idx", "arch", "params", "macs", "figure"), WORKED)
def test_the_worked_examples_count_exactly(idx, arch, params, macs, figure):
    net = cnnlab.create_model("nb201", arch=arch, num_classes=10, C=16, N=5, in_chans=3)
    report = cnnlab.inspect(net, input_size=(1, 3, 32, 32))
    assert report.params == params == nb201_params(arch)
    conv_linear = report.macs_by_kind["conv"] + report.macs_by_kind["linear"]
    assert conv_linear == report.macs == macs
    assert round((macs + 10) / 1e6, 5) == figure
    assert NB201Table.load().index(arch) == idx
    by_index = cnnlab.create_model("nb201", arch=idx)
    assert by_index.arch == arch and sum(p.numel() for p in by_index.parameters()) == params


@given(st.integers(0, 5**6 - 1), st.sampled_from([(10, 3, 16, 5), (100, 3, 8, 1), (120, 1, 4, 2)]))
def test_the_parameter_formula_equals_the_built_network(code, sizes):
    classes, in_chans, C, N = sizes
    arch = format_arch(arch_from_code(code))
    with torch.device("meta"):
        net = cnnlab.create_model("nb201", arch=arch, num_classes=classes, in_chans=in_chans, C=C, N=N)
    assert sum(p.numel() for p in net.parameters()) == nb201_params(arch, classes, in_chans, C, N)


def test_the_network_follows_the_zoo_protocol_and_figure_1():
    net = cnnlab.create_model("nb201", arch=RESNET_CELL, num_classes=10, C=4, N=1).eval()
    x = torch.randn(2, 3, 16, 16)  # ImageNet16-120's size
    assert net(x).shape == (2, 10)
    assert [f["num_chs"] for f in net.feature_info] == [4, 8, 16]
    assert [f["reduction"] for f in net.feature_info] == [1, 2, 4]
    assert [tuple(t.shape[1:]) for t in cnnlab.create_model("nb201", arch=RESNET_CELL, C=4, N=1,
                                                           features_only=True)(x)] == [(4, 16, 16), (8, 8, 8),
                                                                                      (16, 4, 4)]
    net.reset_classifier(120)
    assert net(x).shape == (2, 120) and net.forward_head(net.forward_features(x), pre_logits=True).shape == (2, 16)
    rows = cnnlab.analysis.stage_rows(cnnlab.create_model("nb201"), (1, 3, 32, 32))
    # Fig. 1 (top): conv, cell × N, residual block, cell × N, residual block, cell × N, pool + fc
    assert [r.name for r in rows] == ["3x3 conv", "cell × 5", "residual block, stride 2", "cell × 5",
                                      "residual block, stride 2", "cell × 5", "global avg pool, fc"]
    assert [r.output_size for r in rows[:6]] == ["32x32", "32x32", "16x16", "16x16", "8x8", "8x8"]
    assert [r.cells["C"] for r in rows[:6]] == ["16", "16", "32", "32", "64", "64"]


def test_every_node_is_the_sum_of_its_edges():
    # skip on every edge: node1 = x, node2 = x + node1 = 2x, node3 = x + node1 + node2 = 4x
    cell = cnnlab.create_model("nb201", arch=FACTS[3][1], C=4, N=1).stages[0][0]
    x = torch.randn(1, 4, 8, 8)
    torch.testing.assert_close(cell(x), 4 * x)
    none = cnnlab.create_model("nb201", arch=FACTS[2][1], C=4, N=1).stages[0][0]
    assert not none(x).any()


def test_the_genotype_json_builds_the_same_network(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"space": "nb201", "arch": C10_BEST}))
    net = cnnlab.create_model("nb201", genotype=str(path))
    assert net.genotype == {"space": "nb201", "arch": C10_BEST}
    assert cnnlab.create_model("nb201").arch == C10_BEST  # the default: the CIFAR-10 optimum
    with pytest.raises(ConfigError, match="not both"):
        cnnlab.create_model("nb201", arch=C10_BEST, genotype=str(path))
    with pytest.raises(ConfigError, match="'space' must be 'nb201'"):
        cnnlab.create_model("nb201", genotype={"space": "micro", "arch": C10_BEST})


@pytest.mark.parametrize(("arch", "message"), [
    ("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_9x9' on edge 0->1"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|sep_conv_3x3~2|", "unknown op 'sep_conv_3x3' on edge 2->3"),
    ("|none~0|+|none~0|none~1|", "malformed: expected 3 groups"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must list 2 input"),
    ("|none~0|+|none~0|none~1|+|none~0|none~2|none~1|", "input 1 of node 3 must read 'op~1'"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1's group 'none~0|'"),
    ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "input 0 of node 1 must read 'op~0'"),
    ("", "malformed"),
])
def test_bad_arch_strings_are_config_errors_naming_them(arch, message):
    with pytest.raises(ConfigError, match=message.replace("|", r"\|")) as info:
        cnnlab.create_model("nb201", arch=arch)
    assert repr(arch) in str(info.value)


def test_bad_indices_and_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="0..15624"):
        cnnlab.create_model("nb201", arch=15625)
    with pytest.raises(ConfigError, match="divisible by 4"):
        cnnlab.create_model("nb201", C=4, N=1)(torch.randn(2, 3, 30, 30))


def test_arch_codes_and_strings_round_trip():
    table = NB201Table.load()
    assert len(table) == len(set(table.archs)) == 5**6
    for i in (0, 1, 6111, 15624):
        arch = table.archs[i]
        assert format_arch(parse_arch(arch)) == arch and table.index(arch) == i
        assert arch_from_code(arch_code(parse_arch(arch))) == parse_arch(arch)
    assert table.index(" " + C10_BEST + " ") == 6111


@pytest.mark.parametrize(("idx", "arch", "c10", "c100", "in16"), FACTS)
def test_the_table_holds_the_readme_facts(idx, arch, c10, c100, in16):
    table = NB201Table.load()
    assert table.arch(idx) == arch
    assert [table.accuracy(arch, d) for d in DATASETS] == [c10, c100, in16]


def test_the_table_optima_and_classes():
    table = NB201Table.load()
    for dataset, best in OPTIMA.items():
        index, value = table.optimum(dataset)
        assert round(value, 2) == best and table.accuracy(index, dataset) == value
    assert table.optimum("cifar10")[0] == 6111 and table.optimum("cifar100")[0] == 9930
    assert len(set(table.iso_class.tolist())) == 6466
    # a cell whose node 1 gets nothing and feeds only the output: the edge 1->3 is dead either way
    dead_a = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    dead_b = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert table.iso(dead_a) == table.iso(dead_b)
    assert TABLE_PATH.stat().st_size <= 1_000_000
    with pytest.raises(ConfigError, match="nb201 dataset must be one of"):
        table.accuracy(0, "imagenet")


def test_noise_is_one_draw_per_cell_and_seed():
    table = NB201Table.load()
    a, b = table.noisy_scores("cifar10", 0.5, 1), table.noisy_scores("cifar10", 0.5, 1)
    np.testing.assert_array_equal(a, b)
    diff = a - table.accuracies("cifar10")
    assert abs(diff.std() - 0.5) < 0.02 and abs(diff.mean()) < 0.02
    assert not np.array_equal(a, table.noisy_scores("cifar10", 0.5, 2))
    assert table.noisy_scores("cifar10", 0.0, 1) is table.accuracies("cifar10")


@pytest.mark.skipif(not SHARED.is_file(), reason=f"the shared NB201 table is not at {SHARED}")
def test_the_packaged_table_equals_the_shared_one():
    archs = json.loads(SHARED.read_text())["archs"]
    table = NB201Table.load()
    rng = np.random.default_rng(0)
    names = list(archs)
    for i in rng.choice(len(names), 500, replace=False):
        idx, c10, c100, in16, iso = archs[names[i]]
        assert table.index(names[i]) == idx and table.arch(idx) == names[i] and table.iso(idx) == iso
        assert [table.accuracy(idx, d) for d in DATASETS] == [c10, c100, in16]
    assert set(archs) == set(table.archs)


def test_ops_are_the_benchmarks():
    assert NB201_OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
