"""Fetch a file over HTTP(S) to disk atomically. Used only when a user asks for ``download=True``."""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

from cnnlab.errors import ConfigError

__all__ = ["download_file"]


def download_file(url: str, dest: Path, timeout_s: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (temp file + ``os.replace``); an existing ``dest`` is kept."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
    except OSError as exc:
        raise ConfigError(f"could not download {url} to {dest}: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
