"""A file a command writes (``rf --out``, ``export --onnx``): checked before any work starts, and a write
that fails (read-only file system, full disk) reported as one ConfigError naming it.

Folders are checked by ``cnnlab.train.run_files.check_folder`` and writes wrapped by its ``writing``: one
mechanism for every command's output, file or folder.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from cnnlab.errors import ConfigError

__all__ = ["check_output_file", "writing_file"]


def check_output_file(path: Path | str, option: str) -> Path:
    """``path`` if a file could be written there: not an existing folder, its folder writable (or creatable);
    creates nothing."""
    from cnnlab.train.run_files import check_folder

    target = Path(path).expanduser()
    if not str(path).strip() or target.name in ("", ".", ".."):
        raise ConfigError(f"{option} {str(path)!r} is not a file name")
    if target.is_dir():
        raise ConfigError(f"{option} {target} is an existing folder; give a file name, e.g. {target / 'out'}")
    check_folder(target.parent, f"the folder of {option}")
    return target


def writing_file(path: Path | str, option: str) -> AbstractContextManager[None]:
    """A context in which an ``OSError`` writing ``path`` becomes a ConfigError naming ``option`` and ``path``."""
    from cnnlab.train.run_files import writing

    return writing(path, option)
