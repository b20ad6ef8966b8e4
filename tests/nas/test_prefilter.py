"""``--prefilter PROXY:K``: each proposal's K candidates are scored by a zero-cost proxy and the proxy-best
trains; checked against the proxy computed directly on the same network and batch."""

from __future__ import annotations

import optuna
import pytest
import torch
from optuna.trial import TrialState

from cnnlab.data import make_loaders
from cnnlab.errors import ConfigError
from cnnlab.nas.constraints import CostLimits
from cnnlab.nas.evaluate import ChildBudget
from cnnlab.nas.prefilter import candidates, parse_prefilter
from cnnlab.nas.proxies import get_proxy
from cnnlab.nas.run import search
from cnnlab.nas.spaces import build_network, make_space
from cnnlab.nas.storage import make_storage


def _trials(out, study):
    return optuna.load_study(study_name=study, storage=make_storage(None, out)).get_trials()


def test_candidates_are_the_proposal_and_distinct_one_token_mutations():
    choices = (5, 5, 5)
    tokens = [1, 4, 0]
    out = candidates(tokens, choices, 6, seed=3)
    assert out[0] == tokens and len(out) == 6 and len({tuple(c) for c in out}) == 6
    assert all(sum(a != b for a, b in zip(c, tokens, strict=True)) == 1 for c in out[1:])
    assert out == candidates(tokens, choices, 6, seed=3)  # a resumed search screens the same ones
    assert len(candidates(tokens, choices, 100, seed=3)) == 1 + 3 * 4  # every neighbour, no more


def _noise_batch(seed, batch_size):
    """What --data toy is scored on: seeded Gaussian noise of digits' shape, random labels."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn((batch_size, 1, 8, 8), generator=generator)
    return images, torch.randint(0, 10, (batch_size,), generator=generator)


@pytest.mark.parametrize(("proxy", "data", "trials"), [("naswot", "digits", 2), ("synflow", "toy", 4)])
def test_the_proxy_best_of_k_trains(tmp_path, proxy, data, trials):
    budget = ChildBudget(epochs=1, limit_train=128, C=4, batch_size=32)
    search(space="micro", strategy="random", trials=trials, data=data, out=str(tmp_path), study="f", progress=False,
           budget=budget, prefilter=f"{proxy}:4")
    if data == "digits":  # the first training batch
        bundle = make_loaders("digits", batch_size=32, val_fraction=0.1, seed=0, limit_train=128, limit_test=256)
        images, labels = next(iter(bundle.train))
    else:
        images, labels = _noise_batch(budget.seed, 32)
    space, score = make_space("micro"), get_proxy(proxy)
    trials = _trials(tmp_path, "f")
    assert all(t.state == TrialState.COMPLETE for t in trials) and trials
    for t in trials:
        screened = t.user_attrs["prefilter"]
        assert len(screened) == 4
        direct = []
        for c in screened:
            torch.manual_seed(budget.seed)
            net = build_network(space.decode(c["tokens"]), num_classes=10, in_chans=1, C=4, N=1)
            direct.append(float(score(net, (images.float(), labels.long()))))
        assert [c["score"] for c in screened] == pytest.approx(direct, rel=1e-5)
        assert t.user_attrs["tokens"] == screened[max(range(4), key=lambda i: (direct[i], -i))]["tokens"]


def test_under_a_limit_only_candidates_that_fit_are_scored(tmp_path):
    """params as the proxy prefers the largest candidate; under --max-params the largest that fits wins."""
    search(space="nb201", strategy="random", trials=4, data="nb201:cifar10", out=str(tmp_path), study="n",
           progress=False, prefilter="params:6", limits=CostLimits(max_params=400_000))
    for t in _trials(tmp_path, "n"):
        scored = [c["score"] for c in t.user_attrs["prefilter"]]
        fitting = [s for s in scored if s is not None]
        if t.state == TrialState.COMPLETE:
            assert t.user_attrs["params"] <= 400_000 and t.user_attrs["params"] == max(fitting)
        else:  # no candidate fitted: the proposal was measured and refused
            assert not fitting and t.user_attrs["violates"]


@pytest.mark.parametrize(("text", "named"), [("synflow", "write PROXY:K"), ("nope:4", "proxy must be one of"),
                                             ("synflow:1", "K must be in 2..1000"), ("synflow:x", "K must be an integer"),
                                             ("synflow:-3", "K must be"), ("synflow:5000", "K must be in 2..1000")])
def test_bad_prefilters_are_refused(text, named):
    with pytest.raises(ConfigError, match=named):
        parse_prefilter(text)


def test_a_data_proxy_without_images_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="--data 'toy' has no images to score 'naswot'"):
        search(space="micro", data="toy", trials=2, out=str(tmp_path), progress=False, prefilter="naswot:4")
