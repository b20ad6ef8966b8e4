"""A worker's strategy state is stored without pickle: it round-trips every strategy exactly, and a
planted pickle, a truncated file or a foreign file is a ConfigError naming the file — never a
traceback, never code that runs."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch
from typer.testing import CliRunner

from cnnlab.errors import ConfigError
from cnnlab.nas.engine import SearchConfig, worker_state_path
from cnnlab.nas.run import search
from cnnlab.nas.spaces import make_space
from cnnlab.nas.state import STATE_FORMAT, load_state, save_state
from cnnlab.nas.strategies import make_strategy


class _Planted:
    """Unpickling this object touches ``marker``: what a planted state file did to ``cnnlab search``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _plant(path: pathlib.Path, marker: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"strategy": _Planted(str(marker)), "observed": []}, path)
    torch.load(path, weights_only=False)  # the payload is real: an unsafe load runs it
    assert marker.exists()
    marker.unlink()


OPTIONS = {"random": {}, "reinforce": {}, "evolution": {"population_size": 4, "sample_size": 2},
           "local": {"num_init": 3}, "tpe": {"n_startup_trials": 3}}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_strategy_round_trips_exactly(tmp_path, name):
    space = make_space("nasnet", blocks=2)
    options = OPTIONS[name]
    first = make_strategy(name, space.choices, seed=3, **options)
    for i in range(6):  # the controller takes Adam steps, evolution fills and mutates its population
        tokens = first.propose()
        first.observe(tokens, 0.1 * i)
    save_state(tmp_path / "s.pt", {"strategy": first.state_dict(), "observed": [0, 1], "pending": None})
    loaded = load_state(tmp_path / "s.pt")
    assert loaded["observed"] == [0, 1] and loaded["pending"] is None
    second = make_strategy(name, space.choices, seed=99, **options)
    second.load_state_dict(loaded["strategy"])
    for i in range(4):  # both continue identically, learning included
        tokens = first.propose()
        assert second.propose() == tokens
        first.observe(tokens, 0.05 * i)
        second.observe(tokens, 0.05 * i)
    if name == "reinforce":
        for a, b in zip(first.controller.parameters(), second.controller.parameters(), strict=True):
            assert torch.equal(a, b)


def test_the_file_is_plain_tensors_and_json(tmp_path):
    space = make_space("micro")
    strategy = make_strategy("reinforce", space.choices)
    strategy.observe(strategy.propose(), 0.5)
    strategy.observe(strategy.propose(), 0.7)
    save_state(tmp_path / "s.pt", {"strategy": strategy.state_dict()})
    payload = torch.load(tmp_path / "s.pt", weights_only=True)
    assert payload["format"] == STATE_FORMAT and isinstance(payload["json"], str)
    assert payload["tensors"] and all(isinstance(t, torch.Tensor) for t in payload["tensors"].values())


def test_planted_pickle_is_refused_without_running(tmp_path):
    path, marker = tmp_path / "state.pt", tmp_path / "marker"
    _plant(path, marker)
    with pytest.raises(ConfigError, match="state.pt"):
        load_state(path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty", "a tensor", "wrong json"])
def test_damaged_state_file_is_a_config_error(tmp_path, damage):
    path = tmp_path / "state.pt"
    save_state(path, {"strategy": {"rng": {"state": 2**100}}, "observed": [1, 2, 3]})
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "random bytes":
        path.write_bytes(os.urandom(512))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "a tensor":
        torch.save(torch.zeros(3), path)
    else:
        torch.save({"format": STATE_FORMAT, "json": "{not json", "tensors": {}}, path)
    with pytest.raises(ConfigError, match=r"search state file .*state\.pt"):
        load_state(path)


def _search_args(out):
    return {"space": "micro", "strategy": "evolution", "trials": 3, "data": "toy", "out": str(out), "study": "s",
            "progress": False}


def test_search_refuses_a_planted_state_file(tmp_path):
    marker = tmp_path / "marker"
    path = worker_state_path(SearchConfig(space="micro", strategy="evolution", data="toy", out=str(tmp_path),
                                          study="s"))
    _plant(path, marker)
    with pytest.raises(ConfigError, match=path.name):
        search(**_search_args(tmp_path))
    assert not marker.exists()


def test_cli_reports_a_planted_or_truncated_state_file_in_one_line(tmp_path):
    from cnnlab.cli.main import app

    args = ["search", "--space", "micro", "--strategy", "evolution", "--trials", "3", "--data", "toy", "--study", "s",
            "--out", str(tmp_path), "--no-progress"]
    assert CliRunner().invoke(app, args).exit_code == 0
    path = next(tmp_path.glob("state-s-*.pt"))
    path.write_bytes(path.read_bytes()[:100])
    ran = CliRunner().invoke(app, args)
    assert ran.exit_code == 2, ran.output
    assert ran.output.startswith("error:") and path.name in ran.output and "Traceback" not in ran.output
    marker = tmp_path / "marker"
    _plant(path, marker)
    ran = CliRunner().invoke(app, args)
    assert ran.exit_code == 2 and path.name in ran.output and not marker.exists()


def test_state_of_another_strategy_is_refused(tmp_path):
    search(**_search_args(tmp_path))
    with pytest.raises(ConfigError, match="does not belong to this search"):
        search(**{**_search_args(tmp_path), "strategy": "reinforce"})
