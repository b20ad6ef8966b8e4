"""One process at a time: an exclusive ``flock`` on a lock file, held while a worker or a training run writes.

A lock file holds its holder's pid, host and start time, so a refused second process can say who holds it;
a folder lock (on the folder itself) writes nothing.
The kernel drops the lock when the holder ends, ``kill -9`` included: nothing stale is left to clean up.
Used for a search's worker names (:mod:`cnnlab.nas.storage`) and for a training run folder
(:mod:`cnnlab.train.fit`).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import socket
from collections.abc import Callable
from pathlib import Path

from cnnlab.errors import ConfigError

__all__ = ["HeldLock", "hold_file_lock", "hold_folder_lock"]


class HeldLock:
    """A lock held until :meth:`release` or the end of the process (kill -9 included)."""

    def __init__(self, release: Callable[[], None] | None) -> None:
        self._release = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


def hold_file_lock(lock_file: Path, refused: str, what: str = "lock") -> HeldLock:
    """An exclusive ``flock`` on ``lock_file``; ``refused`` (with ``{where}`` for the holder's note) is the
    ConfigError when another process holds it; a folder that cannot be written (read-only, full disk) is a
    ConfigError naming the lock file (``what`` says whose lock it is)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): nothing is checked
        return HeldLock(None)

    def unwritable(exc: OSError) -> ConfigError:
        return ConfigError(f"cannot write the {what} {str(lock_file)!r}: {exc.strerror or exc}")

    try:
        handle = open(lock_file, "a+")  # noqa: SIM115 - held open until release
    except OSError as exc:
        raise unwritable(exc) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):  # not "another process holds it"
            handle.close()
            raise unwritable(exc) from None
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise ConfigError(refused.format(where=f" ({holder})" if holder else "")) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{datetime.datetime.now().isoformat(timespec='seconds')}")
        handle.flush()
    except OSError as exc:  # a full disk: the lock is held but its note cannot be written
        with contextlib.suppress(OSError):
            handle.close()
        raise unwritable(exc) from None

    def release() -> None:
        with contextlib.suppress(OSError):  # a buffered note that a full disk refuses is not worth a traceback
            handle.close()  # closing the file drops the lock; the file stays for the next holder

    return HeldLock(release)


def hold_folder_lock(folder: Path, refused: str) -> HeldLock:
    """An exclusive ``flock`` on the folder itself (no file is written: a finished run's folder stays
    byte-for-byte as it was); ``refused`` is the ConfigError when another process holds it."""
    try:
        import fcntl
    except ImportError:
        return HeldLock(None)
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened is reported by whoever reads or writes it next
        return HeldLock(None)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(descriptor)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise ConfigError(refused) from None
        return HeldLock(None)  # a file system without flock: nothing is checked
    return HeldLock(lambda: os.close(descriptor))
