"""Each strategy improves over its own first trials on the toy objective; REINFORCE's update
moves probability towards rewarded choices and away from below-baseline ones; states restore."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nas.spaces import make_space
from cnnlab.nas.strategies import AgingEvolution, Reinforce, make_strategy
from cnnlab.nas.toy import toy_reward, toy_target

SPACE = make_space("nasnet", blocks=2)  # 16 tokens, 8.6e9 architectures
OPTIONS = {"random": {}, "reinforce": {}, "evolution": {"population_size": 10, "sample_size": 3}}


def _run(name: str, seed: int, trials: int, space=SPACE) -> list[float]:
    strategy = make_strategy(name, space.choices, seed=seed, **OPTIONS[name])
    rewards = []
    for _ in range(trials):
        tokens = strategy.propose()
        reward = toy_reward(tokens, space.choices)
        strategy.observe(tokens, reward)
        rewards.append(reward)
    return rewards


@pytest.mark.parametrize("name", ["reinforce", "evolution"])
def test_learning_strategies_improve_over_their_first_trials(name):
    for seed in (0, 1, 2):
        rewards = _run(name, seed, 60)
        assert np.mean(rewards[-15:]) > np.mean(rewards[:15]) + 0.05
        assert max(rewards) > max(rewards[:10])


def test_random_search_best_so_far_improves():
    micro = make_space("micro")  # 125 cells: random search finds better ones by sampling alone
    runs = [_run("random", seed, 40, micro) for seed in range(10)]
    assert np.mean([max(r) for r in runs]) > np.mean([max(r[:3]) for r in runs]) + 0.1
    assert all(max(r) >= max(r[:3]) for r in runs)


def _log_prob(strategy: Reinforce, tokens: list[int]) -> float:
    with torch.no_grad():
        return float(strategy.controller.log_prob(tokens)[1])


@pytest.mark.parametrize(("reward", "direction"), [(0.9, 1), (0.1, -1)])
def test_reinforce_gradient_sign(reward, direction):
    strategy = Reinforce(SPACE.choices, seed=0, lr=0.01)
    strategy.baseline = 0.5
    tokens = strategy.propose()
    before = _log_prob(strategy, tokens)
    strategy.observe(tokens, reward)
    after = _log_prob(strategy, tokens)
    assert direction * (after - before) > 0
    assert strategy.baseline == pytest.approx(0.8 * 0.5 + 0.2 * reward)  # EMA baseline


def test_reinforce_first_reward_only_sets_baseline():
    strategy = Reinforce(SPACE.choices, seed=0)
    tokens = strategy.propose()
    before = _log_prob(strategy, tokens)
    strategy.observe(tokens, 0.7)
    assert strategy.baseline == 0.7 and _log_prob(strategy, tokens) == before


def test_evolution_mutates_exactly_one_token_and_ages_out():
    evo = AgingEvolution(SPACE.choices, seed=0, population_size=4, sample_size=2)
    parent = toy_target(SPACE.choices)
    for _ in range(20):
        child = evo.mutate(parent)
        assert sum(a != b for a, b in zip(child, parent, strict=True)) == 1
    for i in range(6):
        evo.observe([0] * len(SPACE.choices), float(i))
    assert [r for _, r in evo.population] == [2.0, 3.0, 4.0, 5.0]  # the oldest died, not the worst
    with pytest.raises(ConfigError, match="sample_size"):
        AgingEvolution(SPACE.choices, population_size=2, sample_size=3)


@pytest.mark.parametrize("name", ["random", "reinforce", "evolution"])
def test_state_dict_restores_the_next_proposals(name):
    a = make_strategy(name, SPACE.choices, seed=5, **OPTIONS[name])
    for _ in range(12):
        tokens = a.propose()
        a.observe(tokens, toy_reward(tokens, SPACE.choices))
    b = make_strategy(name, SPACE.choices, seed=99, **OPTIONS[name])
    b.load_state_dict(a.state_dict())
    for _ in range(3):
        ta, tb = a.propose(), b.propose()
        assert ta == tb
        a.observe(ta, 0.3)
        b.observe(tb, 0.3)
