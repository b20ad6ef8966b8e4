"""The GPU tests are collected everywhere and, without a CUDA device, skipped with the reason (not
silently dropped, and not failing at import)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parents[1]
CUDA_FILES = ["units/test_deform_cuda.py", "train/test_cuda_train.py", "infer/test_cuda_infer.py",
              "compare/test_cuda_converged.py"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: the GPU tests run instead")
def test_cuda_tests_are_collected_and_skipped_with_the_reason():
    files = [str(TESTS / name) for name in CUDA_FILES]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *files],
                          capture_output=True, text=True, timeout=900, cwd=TESTS.parent)  # ~10 s on an idle machine
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    skipped = int(re.search(r"(\d+) skipped", summary).group(1))
    assert skipped >= 14 and "passed" not in summary and "error" not in summary, summary
    reasons = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons and all("needs a CUDA device; none is available here" in line for line in reasons), reasons
    for name in CUDA_FILES:  # every file contributed skipped tests
        assert any(Path(name).name in line for line in reasons), name
