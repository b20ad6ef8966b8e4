"""The files of a run folder: ``config.json``, ``metrics.jsonl``, ``checkpoint.pt``, ``result.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_text
from cnnlab.train.checkpoint import CHECKPOINT_NAME

__all__ = ["RunFiles"]


class RunFiles:
    """Paths of one run folder and the writes made to it (only by the main process)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.root = Path(out_dir).expanduser()
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.jsonl"
        self.checkpoint = self.root / CHECKPOINT_NAME
        self.result = self.root / "result.json"

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")

    def reset_metrics(self, history: list[dict[str, Any]]) -> None:
        """Rewrite ``metrics.jsonl`` to exactly ``history`` (drops lines of epochs not checkpointed)."""
        atomic_write_text(self.metrics, "".join(json.dumps(h) + "\n" for h in history))

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
