"""Fixtures of the training tests: a small CNN for 8x8 digits, with dropout so RNG state matters on resume
(folders on a read-only or a tiny file system: ``mounts`` and ``read_only_folder`` in tests/conftest.py)."""

from __future__ import annotations

import pytest
from torch import nn


def tiny_net(in_chans: int = 1, num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_chans, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(32, num_classes),
    )


@pytest.fixture
def make_tiny_net():
    return tiny_net
