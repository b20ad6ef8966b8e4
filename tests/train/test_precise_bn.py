"""Precise BatchNorm statistics: equal-weight averages of the batch statistics, with final weights."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.train import TrainConfig
from cnnlab.train.precise_bn import recompute_batchnorm_stats


def _record_norm_inputs(model: nn.Module):
    """Forward hooks that keep what each BatchNorm2d receives, call by call."""
    seen: dict[nn.Module, list[torch.Tensor]] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: seen.setdefault(mod, []).append(inp[0].detach()))
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d)
    ]
    return seen, hooks


def test_running_stats_are_the_mean_of_batch_statistics(make_tiny_net):
    model = make_tiny_net()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.fill_(5.0)  # stale statistics the recomputation must replace
            m.running_var.fill_(9.0)
    batches = [torch.randn(16, 1, 8, 8) * (i + 1) for i in range(4)]

    # reference: a copy whose norms run in training mode (torch normalises each batch by its own
    # statistics), with each norm's inputs recorded; their per-batch mean and unbiased variance,
    # averaged over the batches, is what precise statistics must hold
    reference = {}
    probe = make_tiny_net()
    probe.load_state_dict(model.state_dict())
    probe.eval()
    norms = [m for m in probe.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.train()
    seen, hooks = _record_norm_inputs(probe)
    with torch.no_grad():
        for x in batches:
            probe(x)
    for h in hooks:
        h.remove()
    for i, m in enumerate(norms):
        means = torch.stack([t.mean(dim=(0, 2, 3)) for t in seen[m]])
        variances = torch.stack([t.var(dim=(0, 2, 3), unbiased=True) for t in seen[m]])
        reference[i] = (means.mean(0), variances.mean(0))

    rng_before = torch.get_rng_state()
    used = recompute_batchnorm_stats(model, batches, num_batches=10)
    assert used == 4
    assert torch.equal(torch.get_rng_state(), rng_before)  # dropout stayed off: no random draw
    mine = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for i, m in enumerate(mine):
        torch.testing.assert_close(m.running_mean, reference[i][0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(m.running_var, reference[i][1], rtol=1e-5, atol=1e-6)
        assert m.momentum == 0.1  # restored
    assert model.training  # mode restored


def test_fit_recomputes_after_each_epoch(make_tiny_net, tmp_path):
    from cnnlab.data import make_loaders
    from cnnlab.train import fit

    bundle = make_loaders("digits", batch_size=64, seed=0)
    config = TrainConfig(epochs=1, batch_size=64, lr=0.05, precise_bn_batches=3, seed=0)
    result = fit(make_tiny_net(), bundle, config, out_dir=tmp_path, progress=False)
    assert result.history[0]["precise_bn_batches"] == 3
