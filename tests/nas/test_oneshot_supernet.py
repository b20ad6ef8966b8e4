"""The NB201 single-path supernet (SPOS): a path computes exactly what the stand-alone NB201 network of that cell
computes with the path's weights, has its parameter count (the benchmark's published count for the ResNet cell),
and is the only part of the supernet that trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab.errors import ConfigError
from cnnlab.nas.nb201_arch import NB201_EDGES, NB201_OPS, format_arch, nb201_params, parse_arch
from cnnlab.nas.oneshot import NB201Supernet, PathTraining, child_state_dict, inherit, train_paths

# NB201 paper, Table 2 / the benchmark's README: the "ResNet" cell (index 11472), C=16, N=5, CIFAR-10 head
RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
RESNET_PARAMS = 559_386

ARCHS = st.lists(st.sampled_from(NB201_OPS), min_size=len(NB201_EDGES), max_size=len(NB201_EDGES)).map(format_arch)


def _randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random BN affine parameters and running statistics, so that a wrong BN cannot hide."""
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = torch.rand(m.weight.shape, generator=gen) + 0.5
            m.bias.data = torch.randn(m.bias.shape, generator=gen)
            m.running_mean = torch.randn(m.running_mean.shape, generator=gen)
            m.running_var = torch.rand(m.running_var.shape, generator=gen) + 0.5
    return net


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    return _randomised(NB201Supernet(num_classes=10, in_chans=1, C=4, N=2)).eval()


@settings(max_examples=6, deadline=None)
@given(arch=ARCHS)
def test_a_path_is_the_standalone_network_of_its_cell(supernet, arch):
    supernet.set_arch(arch)
    child = cnnlab.create_model("nb201", arch=arch, num_classes=10, in_chans=1, C=4, N=2)
    child.load_state_dict(child_state_dict(supernet, arch))  # strict: every key of the child, nothing more
    child.eval()
    x = torch.randn(3, 1, 12, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(supernet(x), child(x), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(inherit(supernet, arch).eval()(x), child(x), rtol=1e-6, atol=1e-6)
    active = sum(p.numel() for p in supernet.active_parameters())
    assert active == sum(p.numel() for p in child.parameters()) == nb201_params(arch, 10, 1, 4, 2)


def test_the_resnet_cell_path_has_the_benchmarks_parameter_count():
    net = NB201Supernet(num_classes=10, in_chans=3, C=16, N=5)
    net.set_arch(RESNET_CELL)
    assert sum(p.numel() for p in net.active_parameters()) == RESNET_PARAMS
    # every edge holds a 3x3 and a 1x1 conv (the other three ops have no weights) on top of the skeleton
    skeleton = nb201_params(format_arch(("none",) * 6), 10, 3, 16, 5)
    both = (nb201_params(format_arch(("nor_conv_3x3",) * 6), 10, 3, 16, 5)
            + nb201_params(format_arch(("nor_conv_1x1",) * 6), 10, 3, 16, 5) - skeleton)
    assert sum(p.numel() for p in net.parameters()) == both


def test_every_cell_runs_the_same_path_and_sampling_is_uniform():
    net = NB201Supernet(num_classes=10, in_chans=1, C=2, N=3)
    rng = np.random.default_rng(0)
    counts = np.zeros((len(NB201_EDGES), len(NB201_OPS)))
    for _ in range(2000):
        arch = net.sample_arch(rng)
        assert {cell.ops for cell in net.cells()} == {parse_arch(arch)}
        for k, edge in enumerate(net.cells()[0].edges):
            counts[k, edge.active] += 1
    # 400 expected per (edge, op); 5 binomial σ (≈ 18) either side
    assert np.all(np.abs(counts - 400) < 90), counts


def test_only_the_sampled_path_gets_gradients_and_steps():
    torch.manual_seed(0)
    net = NB201Supernet(num_classes=10, in_chans=1, C=4, N=1)
    arch = "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    net.set_arch(arch)
    net(torch.randn(4, 1, 8, 8)).sum().backward()
    active = {id(p) for p in net.active_parameters()}
    assert active and len(active) < len(list(net.parameters()))
    for name, p in net.named_parameters():
        assert (p.grad is not None) == (id(p) in active), name

    # a training run on one path (momentum, weight decay) leaves every other op's weights as they were
    net.zero_grad(set_to_none=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    images = torch.randn(32, 1, 8, 8)

    class Loader:  # the loader protocol train_paths uses: batch_size, len, set_epoch, iteration
        batch_size = 8

        def __len__(self):
            return 4

        def set_epoch(self, epoch):
            pass

        def __iter__(self):
            return iter([(images[i:i + 8], torch.arange(8) % 10) for i in range(0, 32, 8)])

    train_paths(net, Loader(), PathTraining(epochs=2, lr=0.1, weight_decay=5e-4))
    names_active = {n for n, p in net.named_parameters() if id(p) in active}
    for name, p in net.named_parameters():
        assert torch.equal(p, before[name]) != (name in names_active), name


def test_bad_paths_are_config_errors():
    net = NB201Supernet(num_classes=10, in_chans=1, C=2, N=1)
    with pytest.raises(ConfigError, match="conv_9x9"):
        net.set_arch("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ConfigError, match="6 ops"):
        net.set_arch(["none"] * 5)
    with pytest.raises(ConfigError, match="C"):
        NB201Supernet(C=0)
