"""Small file helpers of the audit trail: private atomic writes and an inter-process lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

PRIVATE_MODE = 0o600


def _temporary(path: Path, text: str) -> Path:
    """Write ``text`` to a new private file beside ``path`` (flushed to disk); its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def replace_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (readers see the old or the new file, whole).

    The file is created with mode 0600 (the umask may only narrow it).
    """
    temporary = _temporary(path, text)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_private(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` (mode 0600) unless it exists; whether it was created.

    The content appears at once and whole (a hard link of a finished file), so a process
    racing to create the same file reads either nothing or all of it.
    """
    temporary = _temporary(path, text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock (``flock``) on ``path``'s sidecar ``.lock`` file.

    Serialises read-then-replace of ``path`` between processes (and threads: each holder
    opens its own descriptor).
    """
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
