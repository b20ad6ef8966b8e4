"""Each strategy improves over its own first trials on the toy objective; REINFORCE's update
moves probability towards rewarded choices and away from below-baseline ones; local search walks
neighbourhoods as White et al.'s Algorithm 1; TPE never asks for a cell twice; warm starts come first;
states restore."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nas.spaces import make_space
from cnnlab.nas.strategies import STRATEGIES, TPE, AgingEvolution, LocalSearch, Reinforce, make_strategy
from cnnlab.nas.strategies.local_search import neighbours
from cnnlab.nas.toy import toy_reward, toy_target

SPACE = make_space("nasnet", blocks=2)  # 16 tokens, 8.6e9 architectures
OPTIONS = {"random": {}, "reinforce": {}, "evolution": {"population_size": 10, "sample_size": 3},
           "local": {"num_init": 5}, "tpe": {"n_startup_trials": 10}}


def _run(name: str, seed: int, trials: int, space=SPACE) -> list[float]:
    strategy = make_strategy(name, space.choices, seed=seed, **OPTIONS[name])
    rewards = []
    for _ in range(trials):
        tokens = strategy.propose()
        reward = toy_reward(tokens, space.choices)
        strategy.observe(tokens, reward)
        rewards.append(reward)
    return rewards


@pytest.mark.parametrize("name", ["reinforce", "evolution", "local", "tpe"])
def test_learning_strategies_improve_over_their_first_trials(name):
    # local search evaluates all 108 neighbours of a cell before it moves: it needs more trials here
    trials = 300 if name == "local" else 60
    for seed in (0, 1, 2):
        rewards = _run(name, seed, trials)
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


@pytest.mark.parametrize("name", sorted(OPTIONS))
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


def _landscape(tokens):
    """Two peaks on a 3 x 3 grid: (2, 2) scores 9, (0, 0) a local optimum scoring 5 (its neighbours score less)."""
    scores = [[5, 1, 2], [1, 0, 3], [2, 4, 9]]
    return scores[tokens[0]][tokens[1]]


def test_local_search_evaluates_the_whole_neighbourhood_then_moves_to_its_best():
    ls = LocalSearch((3, 3), seed=0, num_init=1, warm_start=[[0, 1]])
    proposals = []
    for _ in range(9):
        tokens = ls.propose()
        proposals.append(tuple(tokens))
        ls.observe(tokens, _landscape(tokens))
    assert proposals[0] == (0, 1)
    # the start's 4 neighbours in some order; the best of them, (0, 0) scoring 5, becomes the centre; its
    # unseen neighbours (1, 0) and (2, 0) come next; (0, 0) is a local optimum, so a random restart follows
    assert set(proposals[1:5]) == set(neighbours((0, 1), (3, 3)))
    assert set(proposals[5:7]) == {(1, 0), (2, 0)}
    assert proposals[7] not in proposals[:7]
    assert len(set(proposals)) == len(proposals) == 9  # never twice, and the whole 3 x 3 grid in 9 queries


def test_local_search_climbs_to_the_optimum_of_a_smooth_landscape():
    choices = (5,) * 6  # NAS-Bench-201's shape: 24 neighbours per cell
    target = toy_target(choices)
    for seed in range(5):
        ls = LocalSearch(choices, seed=seed, num_init=1)
        for _ in range(1 + 6 * 24):  # each move fixes one token: the start, then at most 6 neighbourhoods
            tokens = ls.propose()
            ls.observe(tokens, toy_reward(tokens, choices))
            if tokens == target:
                break
        assert tokens == target


def test_a_proxy_ranked_neighbourhood_is_proposed_best_ranked_first():
    # the rank here is the landscape itself (a perfect proxy): after the start (0, 1) its neighbours come in
    # the order (2, 1) 4, (0, 0) 5 ... best first: (0, 0) 5, (2, 1) 4, (0, 2) 2, (1, 1) 0
    ls = LocalSearch((3, 3), seed=0, num_init=1, warm_start=[[0, 1]], rank=_landscape)
    proposals = []
    for _ in range(5):
        tokens = ls.propose()
        proposals.append(tuple(tokens))
        ls.observe(tokens, _landscape(tokens))
    assert proposals == [(0, 1), (0, 0), (2, 1), (0, 2), (1, 1)]


def test_first_improvement_moves_as_soon_as_a_neighbour_beats_the_centre():
    ls = LocalSearch((3, 3), seed=0, num_init=1, warm_start=[[0, 1]], rank=_landscape, first_improvement=True)
    proposals = []
    for _ in range(5):
        tokens = ls.propose()
        proposals.append(tuple(tokens))
        ls.observe(tokens, _landscape(tokens))
    # (0, 0) scores 5 > 1: it is the centre at once, the rest of (0, 1)'s neighbourhood is dropped; its
    # unseen neighbours by rank: (2, 0) and (0, 2) both 2 (in random order), then (1, 0) 1
    assert proposals[:2] == [(0, 1), (0, 0)]
    assert set(proposals[2:4]) == {(2, 0), (0, 2)}
    assert proposals[4] == (1, 0)


@pytest.mark.parametrize("rank", ["synflow", 3])
def test_a_rank_that_is_not_a_function_is_a_config_error(rank):
    with pytest.raises(ConfigError, match="rank"):
        LocalSearch((3, 3), rank=rank)


def test_local_search_restarts_from_a_random_cell_when_no_proposal_was_scored():
    ls = LocalSearch((3, 3), seed=0, num_init=1)
    first = ls.propose()
    ls.observe(first, 1.0)
    for nb in neighbours(first, (3, 3)):
        ls.observe(list(nb), 0.0)  # another worker scored the whole neighbourhood
    restart = ls.propose()  # a local optimum: restart
    again = ls.propose()  # the restart failed (never observed): another random one
    assert tuple(restart) not in ls.seen and tuple(again) not in ls.seen


def test_tpe_never_proposes_an_observed_cell_and_learns_from_any_worker():
    tpe = TPE((5,) * 3, seed=0, n_startup_trials=5)
    seen = set()
    for _ in range(60):
        tokens = tpe.propose()
        assert tuple(tokens) not in seen
        seen.add(tuple(tokens))
        tpe.observe(tokens, toy_reward(tokens, (5,) * 3))
    tpe.observe([0, 0, 0], 0.1)  # another worker's trial
    assert len(tpe.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 61
    assert tuple(tpe.propose()) not in seen | {(0, 0, 0)}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_warm_start_is_proposed_first(name):
    warm = [[0] * len(SPACE.choices), [1] * len(SPACE.choices)]
    strategy = make_strategy(name, SPACE.choices, seed=0, warm_start=warm, **OPTIONS[name])
    for tokens in warm:
        assert strategy.propose() == tokens
        strategy.observe(tokens, 0.5)
    with pytest.raises(ConfigError, match="warm-start tokens"):
        make_strategy(name, SPACE.choices, warm_start=[[99] * len(SPACE.choices)])


def test_evolution_starts_from_a_warm_population():
    warm = [toy_target(SPACE.choices)] * 4
    evo = AgingEvolution(SPACE.choices, seed=0, population_size=4, sample_size=2, warm_start=warm)
    for _ in range(4):
        tokens = evo.propose()
        evo.observe(tokens, 1.0)
    child = evo.propose()  # a mutation of a warm member, not a random cell
    assert sum(a != b for a, b in zip(child, warm[0], strict=True)) == 1


def test_each_strategy_states_its_default_options():
    assert make_strategy("evolution", SPACE.choices, trials=100).population_size == 25
    assert make_strategy("evolution", SPACE.choices, trials=100).sample_size == 6
    assert make_strategy("local", SPACE.choices, trials=25).num_init == 2
    assert make_strategy("local", SPACE.choices, trials=500).num_init == 10
    assert make_strategy("tpe", SPACE.choices, trials=50).n_startup_trials == 5
    assert STRATEGIES["reinforce"].default_options(100) == {} == STRATEGIES["random"].default_options(100)
    assert make_strategy("evolution", SPACE.choices, trials=100, population_size=8).population_size == 8
