"""Where datasets are looked for on disk.

Order: the ``root=`` argument, then ``$CNNLAB_DATA``, then ``~/.cache/cnnlab/data``, then the
system-wide dataset folder Debian packages install to (``/usr/share/datasets``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV_VAR", "SYSTEM_DATA_DIR", "USER_DATA_DIR", "candidate_dirs", "default_download_dir"]

DATA_ENV_VAR = "CNNLAB_DATA"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
USER_DATA_DIR = Path("~/.cache/cnnlab/data")


def _roots(root: str | os.PathLike | None) -> list[Path]:
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    roots += [USER_DATA_DIR.expanduser(), SYSTEM_DATA_DIR]
    return roots


def candidate_dirs(root: str | os.PathLike | None, subdirs: tuple[str, ...]) -> list[Path]:
    """Folders that may hold a dataset: each root itself and each ``root/<subdir>``."""
    found: list[Path] = []
    for base in _roots(root):
        for folder in (base, *(base / s for s in subdirs)):
            if folder not in found:
                found.append(folder)
    return found


def default_download_dir(root: str | os.PathLike | None, subdir: str) -> Path:
    """Where a download goes: ``root/<subdir>``, else ``$CNNLAB_DATA/<subdir>``, else the user cache."""
    if root is not None:
        return Path(root).expanduser() / subdir
    env = os.environ.get(DATA_ENV_VAR)
    base = Path(env).expanduser() if env else USER_DATA_DIR.expanduser()
    return base / subdir
