"""The files of a run folder: ``config.json``, ``metrics.jsonl``, ``checkpoint.pt``, ``result.json``.

Every write goes through :func:`writing`, so a folder that is a file, read-only or on a full disk
ends the run with one :class:`cnnlab.ConfigError` naming the path, not an ``OSError`` traceback.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_text
from cnnlab.errors import ConfigError
from cnnlab.train.checkpoint import CHECKPOINT_NAME

__all__ = ["RunFiles", "check_folder", "prepare_folder", "require_free_space", "writing"]


@contextmanager
def writing(path: str | Path, what: str = "") -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` (read-only file system, full disk, a file where
    a folder should be, no permission) into a one-line ConfigError naming ``path``."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot write {what + ' ' if what else ''}{path}: {reason}") from None


def check_folder(path: str | Path, what: str = "output folder") -> Path:
    """ConfigError unless the folder ``path`` exists or could be created, and files could be written in
    it; creates nothing (a command checks its output folder before it reads any data)."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is an existing file, not a folder; choose another path")
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"{what} {folder}: {existing} is a file, not a folder; choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(existing) else "permission denied"
        raise ConfigError(f"cannot write {what} {folder}: {existing} is not writable ({reason})")
    return folder


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def prepare_folder(path: str | Path, what: str = "output folder") -> Path:
    """Create the folder ``path`` (and its parents) where files will be written; ConfigError when it is
    an existing file or cannot be created."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is an existing file, not a folder; choose another path")
    with writing(folder, what):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    """ConfigError when the file system of ``folder`` has less than ``needed_bytes`` free for ``what``."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # no answer: the write itself will report
    if free < needed_bytes:
        raise ConfigError(
            f"{folder} has {free / 2**20:.1f} MiB free, but {what} needs about {needed_bytes / 2**20:.1f} MiB; "
            "free some space or choose another folder"
        )


class RunFiles:
    """Paths of one run folder and the writes made to it (only by the main process)."""

    NAMES = ("config.json", "metrics.jsonl", CHECKPOINT_NAME, "result.json")

    def __init__(self, out_dir: str | Path) -> None:
        self.root = Path(out_dir).expanduser()
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.jsonl"
        self.checkpoint = self.root / CHECKPOINT_NAME
        self.result = self.root / "result.json"

    def holds_run(self) -> bool:
        """True when the folder holds a run's files (a started, interrupted or finished run)."""
        return self.checkpoint.is_file() or self.config.is_file()

    def read_config(self) -> dict[str, Any] | None:
        """``config.json`` as written by :meth:`write_json` (None when absent)."""
        try:
            return json.loads(self.config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {self.config}: {exc}; pass --overwrite (overwrite=True) to start "
                              "a fresh run there") from None

    def remove_run(self) -> None:
        """Delete the run's own files (nothing else in the folder)."""
        with writing(self.root, "run folder"):
            for name in self.NAMES:
                (self.root / name).unlink(missing_ok=True)

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        with writing(path):
            atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")

    def reset_metrics(self, history: list[dict[str, Any]]) -> None:
        """Rewrite ``metrics.jsonl`` to exactly ``history`` (drops lines of epochs not checkpointed)."""
        with writing(self.metrics):
            atomic_write_text(self.metrics, "".join(json.dumps(h) + "\n" for h in history))

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Add one line to ``metrics.jsonl``, by rewriting the file atomically (``cnnlab.atomic``): a kill or a
        full disk midway leaves the previous lines, never a torn last line."""
        with writing(self.metrics):
            try:
                before = self.metrics.read_text(encoding="utf-8")
            except FileNotFoundError:
                before = ""
            if before and not before.endswith("\n"):  # a torn line left by an older writer
                before = before[: before.rfind("\n") + 1]
            atomic_write_text(self.metrics, before + json.dumps(record) + "\n")
