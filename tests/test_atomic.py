"""Atomic writes: the old file survives a failed write, no temp file is left, permissions are ordinary."""

from __future__ import annotations

import os

import pytest

from cnnlab.atomic import atomic_write, atomic_write_bytes, atomic_write_text


def test_text_and_bytes_round_trip(tmp_path):
    assert atomic_write_text(tmp_path / "a" / "t.txt", "héllo\n").read_text(encoding="utf-8") == "héllo\n"
    assert atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = atomic_write_text(tmp_path / "state.json", "old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed midway")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_permissions_match_a_plain_open(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = atomic_write_text(tmp_path / "atomic.txt", "x")
    assert os.stat(atomic).st_mode == os.stat(plain).st_mode
