"""The zoo's tests never touch the user's torch hub cache (nor the network through it)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_torch_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
