"""Small models and a shared compute-only comparison for the compare tests (folders on a read-only or a
tiny file system: ``mounts`` and ``read_only_folder`` in tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.compare import CompareConfig, LatencySettings, ModelSpec, run_compare
from cnnlab.compare.specs import spec_from_registry


class TinyStaged(nn.Module):
    """A two-stage net with the zoo's layout (stem / stages / head) but a few thousand parameters."""

    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.stages = nn.Sequential(
            nn.Sequential(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())),
            nn.Sequential(
                nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()),
                nn.Sequential(nn.Conv2d(16, 16, 3, padding=2, dilation=2), nn.ReLU()),
            ),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def tiny_plain(num_classes: int, in_chans: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_chans, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1, groups=3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(12, num_classes),
    )


TINY_SPECS = [
    ModelSpec("tiny_staged", "tiny-staged", "test model", TinyStaged),
    ModelSpec("tiny_plain", "tiny-plain", "test model", tiny_plain),
]

QUICK_LATENCY = LatencySettings(batch_sizes=(1, 32), warmup=1, repeats=2, threads=1)


@pytest.fixture(scope="session")
def no_train_result(tmp_path_factory):
    """One compute-only comparison of two tiny nets and the registry's resnet18 on digits at 16x16."""
    out = tmp_path_factory.mktemp("compare_no_train")
    specs = [*TINY_SPECS, spec_from_registry("resnet18")]
    config = CompareConfig(out=out, data="digits", image_size=16, train=False, latency=QUICK_LATENCY, progress=False)
    return run_compare(specs, config)


@pytest.fixture
def tiny_specs() -> list[ModelSpec]:
    return list(TINY_SPECS)


@pytest.fixture
def quick_latency() -> LatencySettings:
    return QUICK_LATENCY
