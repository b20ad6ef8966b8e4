"""Fixtures of the training tests: a small CNN for 8x8 digits, with dropout so RNG state matters on resume;
folders on a read-only or a tiny file system."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


@pytest.fixture
def mounts(tmp_path):
    """``mounts(size_kib, read_only=False)``: a folder on a fresh tmpfs of that size (needs root: skips
    otherwise), unmounted after the test. The same helper lives in tests/compare/conftest.py."""
    mounted: list[Path] = []

    def mount(size_kib: int, read_only: bool = False) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        point = tmp_path / f"mount{len(mounted)}"
        point.mkdir()
        options = f"size={size_kib}k" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


@pytest.fixture
def read_only_folder(tmp_path, mounts):
    """A folder no file can be written in: a read-only tmpfs as root, a chmod 555 folder otherwise."""
    if os.geteuid() == 0:
        yield mounts(64, read_only=True)
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
