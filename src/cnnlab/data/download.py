"""Fetch a file over HTTP(S) to disk atomically. Used only when a user asks for ``download=True``."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from cnnlab.atomic import atomic_path
from cnnlab.errors import ConfigError

__all__ = ["download_file"]


def download_file(url: str, dest: Path, timeout_s: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (temp file + ``os.replace``); an existing ``dest`` is kept."""
    if dest.exists():
        return dest
    try:
        with atomic_path(dest) as tmp, open(tmp, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
    except OSError as exc:
        raise ConfigError(f"could not download {url} to {dest}: {exc}") from None
    return dest
