"""Shared by the several-worker tests (journal file and PostgreSQL)."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState


def _budget_met_once(trials, trials_wanted, killed_number=None):
    """``trials_wanted`` COMPLETE trials, none RUNNING or WAITING, no architecture completed twice;
    a killed trial is FAIL and its architecture completed exactly once afterwards (or it had completed
    just before the kill); any other FAIL is a surplus trial."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == trials_wanted
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    tokens = [tuple(t.user_attrs["tokens"]) for t in complete]
    assert len(set(tokens)) == len(tokens), "an architecture was evaluated twice"
    if killed_number is not None and trials[killed_number].state == TrialState.FAIL:
        killed = trials[killed_number]
        reruns = [t for t in complete if t.user_attrs.get("retry_of") == killed_number]
        assert len(reruns) == 1 and reruns[0].user_attrs["tokens"] == killed.user_attrs["tokens"]
    for t in trials:
        if t.state == TrialState.FAIL:
            assert t.user_attrs.get("surplus") or t.number == killed_number, t.user_attrs


@pytest.fixture
def budget_met_once():
    return _budget_met_once
