"""Replayed searches on the NB201 table and random search's expectation by order statistics, held
against brute-force enumeration and Monte Carlo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnnlab.nas.nb201_table import NB201Table
from cnnlab.nas.replay import index_of_tokens, random_search_expected, replay, tokens_of_index, top_cells


def test_exact_order_statistics_equal_enumerating_every_draw():
    values = np.array([1.0, 3.0, 2.0, 3.0, 0.5])  # two optimal cells
    for n in (1, 2, 3):
        draws = list(itertools.product(values, repeat=n))
        best = np.array([max(d) for d in draws])
        expected = random_search_expected(values, n)
        assert expected.mean == pytest.approx(best.mean(), abs=1e-12)
        assert expected.std == pytest.approx(best.std(), abs=1e-12)
        assert expected.p_optimum == pytest.approx((best == 3.0).mean(), abs=1e-12)


def test_noisy_order_statistics_equal_monte_carlo():
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(80, 5, 40))
    n, sigma, runs = 6, 2.0, 200_000
    draws = rng.integers(len(values), size=(runs, n))
    scores = values[draws] + sigma * rng.standard_normal((runs, n))
    returned = values[draws[np.arange(runs), scores.argmax(1)]]
    expected = random_search_expected(values, n, noise=sigma)
    assert expected.mean == pytest.approx(returned.mean(), abs=4 * returned.std() / runs**0.5)
    assert expected.std == pytest.approx(returned.std(), rel=0.01)
    assert expected.p_optimum == pytest.approx((returned == values.max()).mean(), abs=0.003)
    # several budgets at once; a vanishing noise is the exact case
    assert [e.mean for e in random_search_expected(values, [n, 2 * n], noise=sigma)] == pytest.approx(
        [expected.mean, random_search_expected(values, 2 * n, noise=sigma).mean])
    assert random_search_expected(values, n, noise=0.01).mean == pytest.approx(
        random_search_expected(values, n).mean, abs=0.01)


def test_tokens_and_indices_round_trip_over_the_whole_table():
    table = NB201Table.load()
    for index in range(0, len(table), 7):
        tokens = tokens_of_index(table, index)
        assert index_of_tokens(table, tokens) == index
    assert tokens_of_index(table, 11472) == [3, 0, 3, 1, 0, 1]  # the benchmark's ResNet cell


def test_a_replay_returns_the_best_scored_cell_so_far():
    table = NB201Table.load()
    values = table.accuracies("cifar10")
    returned = replay("evolution", "cifar10", 60, seed=4)
    assert np.all(np.diff(values[returned]) >= 0)  # exact scores: the returned accuracy never drops
    noisy = replay("evolution", "cifar10", 60, seed=4, noise=0.5)
    scores = table.noisy_scores("cifar10", 0.5, 4)
    assert np.all(np.diff(scores[noisy]) >= 0)  # noisy: the score never drops, the accuracy may
    assert np.array_equal(noisy, replay("evolution", "cifar10", 60, seed=4, noise=0.5))


def test_replayed_random_search_matches_its_order_statistics():
    values = NB201Table.load().accuracies("cifar100")
    finals = np.array([values[replay("random", "cifar100", 50, seed=s)[-1]] for s in range(300)])
    expected = random_search_expected(values, 50)
    assert finals.mean() == pytest.approx(expected.mean, abs=4 * expected.std / 300**0.5)


def test_top_cells_rank_by_score_then_index():
    table = NB201Table.load()
    scores = np.zeros(len(table))
    scores[[5, 9, 3]] = [2.0, 2.0, 7.0]
    assert top_cells(table, scores, 3) == [tokens_of_index(table, i) for i in (3, 5, 9)]
    assert top_cells(table, scores, 2, candidates=np.array([9, 5, 100])) == [tokens_of_index(table, i) for i in (5, 9)]
