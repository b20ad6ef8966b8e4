"""The writes of a run folder (cnnlab.train.run_files) go through cnnlab.atomic: a full disk midway leaves
every earlier line of metrics.jsonl whole and readable, and is one ConfigError naming the file."""

from __future__ import annotations

import json

import pytest

from cnnlab.errors import ConfigError
from cnnlab.train.run_files import RunFiles


def test_a_full_disk_never_leaves_a_torn_metrics_line(mounts):
    """Appending in place used to write the part of the line that fit (a torn last line, which json
    cannot read); the atomic rewrite leaves the previous file as it was."""
    files = RunFiles(mounts(16))
    record = {"epoch": 0, "note": "x" * 1500}
    written = 0
    with pytest.raises(ConfigError, match=f"cannot write {files.metrics}: No space left on device"):
        for epoch in range(1, 100):
            files.append_metrics({**record, "epoch": epoch})
            written = epoch
    lines = files.metrics.read_text(encoding="utf-8").splitlines(keepends=True)
    assert written >= 1 and len(lines) == written
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, written + 1))
    assert all(line.endswith("\n") for line in lines)
    assert sorted(p.name for p in files.root.iterdir()) == ["metrics.jsonl"]  # no temporary file left


def test_appending_keeps_earlier_lines_and_drops_a_torn_one(tmp_path):
    files = RunFiles(tmp_path)
    files.append_metrics({"epoch": 1})
    files.metrics.write_text(files.metrics.read_text() + '{"epoch": 2, "train_lo', encoding="utf-8")  # a kill
    files.append_metrics({"epoch": 2})
    assert [json.loads(line) for line in files.metrics.read_text().splitlines()] == [{"epoch": 1}, {"epoch": 2}]
