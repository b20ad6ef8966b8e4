"""Inherited-weight scoring: BatchNorm recalibration changes only the BN buffers and leaves them equal to the
statistics of the calibration batches computed by hand; scoring a child leaves the supernet untouched."""

from __future__ import annotations

import torch

from cnnlab.nas.oneshot import NB201Supernet, calibration_batches, inherit, inherited_accuracy, recalibrate
from cnnlab.train.evaluate import evaluate

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"


def _supernet() -> NB201Supernet:
    torch.manual_seed(0)
    net = NB201Supernet(num_classes=10, in_chans=1, C=4, N=2)
    for m in net.modules():  # stale statistics, as after training other paths
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(7.0)
    return net


def _batches(n: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(2)
    return [torch.randn(16, 1, 8, 8, generator=gen) * (1 + i) + i for i in range(n)]


def test_recalibration_changes_only_bn_buffers_to_the_batches_statistics():
    child = inherit(_supernet(), ARCH)
    batches = _batches()
    norms = {name: m for name, m in child.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in norms}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: seen[name].append(args[0].detach()))
             for name, m in norms.items()]
    params = {k: v.clone() for k, v in child.named_parameters()}
    assert recalibrate(child, batches) == len(batches)
    for h in hooks:
        h.remove()
    for k, v in child.named_parameters():
        assert torch.equal(v, params[k]), k
    for name, m in norms.items():
        inputs = seen[name]
        assert len(inputs) == len(batches)
        # equal-weight average of each batch's mean and unbiased variance per channel (Wu & Johnson 2021, §3)
        mean = torch.stack([x.mean((0, 2, 3)) for x in inputs]).mean(0)
        var = torch.stack([x.transpose(0, 1).flatten(1).var(1, unbiased=True) for x in inputs]).mean(0)
        torch.testing.assert_close(m.running_mean, mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(m.running_var, var, rtol=1e-5, atol=1e-6)
        assert int(m.num_batches_tracked) == len(batches)
        assert m.momentum == 0.1  # restored after the cumulative average
    assert child.training  # the mode it had before (a fresh network trains)


def test_the_stem_statistics_match_the_convolution_by_hand():
    """The stem's BN reads the stem conv directly: its statistics follow from the batches alone."""
    child = inherit(_supernet(), ARCH)
    batches = _batches()
    recalibrate(child, batches)
    conv = child.stem.conv
    outs = [torch.nn.functional.conv2d(x, conv.weight, None, conv.stride, conv.padding) for x in batches]
    mean = torch.stack([o.mean((0, 2, 3)) for o in outs]).mean(0)
    torch.testing.assert_close(child.stem.bn.running_mean, mean, rtol=1e-5, atol=1e-6)


def test_inherited_accuracy_leaves_the_supernet_as_it_was():
    supernet = _supernet().eval()
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    batches = _batches()
    gen = torch.Generator().manual_seed(3)
    val = [(torch.randn(20, 1, 8, 8, generator=gen), torch.randint(0, 10, (20,), generator=gen)) for _ in range(2)]
    score = inherited_accuracy(supernet, ARCH, batches, val)
    for k, v in supernet.state_dict().items():
        assert torch.equal(v, before[k]), k
    child = inherit(supernet, ARCH)
    recalibrate(child, batches)
    assert score == evaluate(child, val)
    assert 0.0 <= score <= 1.0


def test_calibration_batches_are_the_loaders_first_batches():
    images = torch.arange(40.0).reshape(10, 1, 2, 2)
    loader = [(images[i:i + 2], torch.zeros(2)) for i in range(0, 10, 2)]
    got = calibration_batches(loader, 3)
    assert len(got) == 3 and all(torch.equal(g, images[2 * i:2 * i + 2]) for i, g in enumerate(got))
