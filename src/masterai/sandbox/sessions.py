"""Persistent sandbox sessions: a working directory kept across one owner's runs.

A run given a session (``CodeExecutionRequest.session``) starts with the session's files in
``/work`` and, once no process of the run can write, the working directory is saved back:
files persist, processes do not. Sessions belong to one owner (the tool passes the
principal's name) and are never shared: each owner has a directory of their own, named by a
hash of the owner so that no name can reach another's. Layout under the sessions root::

    <sha256(owner)[:32]>/<session name>/files/...   the saved working directory
    <sha256(owner)[:32]>/<session name>/.used       touched on each use (expiry)

A session holds at most ``quota`` bytes: a run that leaves more is not saved (the files of
the previous run stay, and the result says why). Sessions unused for ``ttl`` seconds are
removed when their owner next uses sessions; an owner has at most ``max_sessions``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from masterai.sandbox.errors import InvalidRequestError

SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAX_FILES = 2000
_MAX_DEPTH = 8
_LOCKS: dict[Path, asyncio.Lock] = {}


@dataclass(frozen=True, kw_only=True)
class SessionHandle:
    """One owner's session, opened for a run."""

    name: str
    path: Path
    """Host directory of the session (holds ``files/``)."""
    quota: int
    """Bytes the saved working directory may hold."""

    @property
    def files_dir(self) -> Path:
        """Where the saved working directory lives."""
        return self.path / "files"

    def lock(self) -> asyncio.Lock:
        """The lock serialising this process's runs in the session (last one saved wins)."""
        return _LOCKS.setdefault(self.path, asyncio.Lock())


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    """What :meth:`SessionStore.list` reports of a session."""

    name: str
    files: int
    size: int
    last_used: float
    """Unix time of the last run in the session."""
    expires: float
    """Unix time after which it is removed if unused."""


class SessionStore:
    """Where sessions live, with their quota, expiry and number per owner (no I/O here)."""

    def __init__(self, root: Path, *, quota: int, ttl: float, max_sessions: int) -> None:
        self.root = root
        self.quota = quota
        self.ttl = ttl
        self.max_sessions = max_sessions

    def _owner_dir(self, owner: str) -> Path:
        return self.root / hashlib.sha256(owner.encode()).hexdigest()[:32]

    @staticmethod
    def check_name(name: object) -> str:
        """``name`` if it is a valid session name.

        Raises:
            InvalidRequestError: it is not (the message says what is allowed).
        """
        if not isinstance(name, str) or not SESSION_NAME.match(name):
            raise InvalidRequestError(
                f"Invalid session name: {name!r}. Allowed: 1-64 letters, digits, '_', '-' "
                "and '.', starting with a letter or digit"
            )
        return name

    def open(self, owner: str, name: str) -> SessionHandle:
        """The session ``name`` of ``owner``, created if needed; expired sessions go first.

        Raises:
            InvalidRequestError: bad name, or the owner already has ``max_sessions`` sessions.
        """
        self.check_name(name)
        owner_dir = self._owner_dir(owner)
        self.sweep(owner)
        path = owner_dir / name
        if not path.is_dir():
            existing = [p for p in owner_dir.iterdir() if p.is_dir()] if owner_dir.is_dir() else []
            if len(existing) >= self.max_sessions:
                raise InvalidRequestError(
                    f"Cannot create session {name!r}: {len(existing)} sessions already exist "
                    f"(at most {self.max_sessions}); delete one or reuse it"
                )
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            (path / "files").mkdir(parents=True, mode=0o700)
        (path / ".used").touch()
        return SessionHandle(name=name, path=path, quota=self.quota)

    def sweep(self, owner: str) -> list[str]:
        """Remove ``owner``'s sessions unused for longer than ``ttl``; their names."""
        owner_dir = self._owner_dir(owner)
        removed = []
        cutoff = time.time() - self.ttl
        for path in sorted(owner_dir.iterdir()) if owner_dir.is_dir() else []:
            if path.is_dir() and _last_used(path) < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed

    def list(self, owner: str) -> list[SessionInfo]:
        """``owner``'s live sessions."""
        self.sweep(owner)
        owner_dir = self._owner_dir(owner)
        out = []
        for path in sorted(owner_dir.iterdir()) if owner_dir.is_dir() else []:
            files = [p for p in (path / "files").rglob("*") if p.is_file() and not p.is_symlink()]
            used = _last_used(path)
            out.append(
                SessionInfo(
                    name=path.name,
                    files=len(files),
                    size=sum(p.stat().st_size for p in files),
                    last_used=used,
                    expires=used + self.ttl,
                )
            )
        return out

    def delete(self, owner: str, name: str) -> bool:
        """Remove ``owner``'s session ``name``; whether it existed."""
        path = self._owner_dir(owner) / self.check_name(name)
        if not path.is_dir():
            return False
        shutil.rmtree(path)
        return True


def _last_used(path: Path) -> float:
    try:
        return (path / ".used").stat().st_mtime
    except OSError:
        return 0.0


def load(handle: SessionHandle) -> dict[str, bytes]:
    """The saved files of a session, relative path -> content (no link followed)."""
    return dict(_tree(handle.files_dir, skip=frozenset()))


def _tree(root: Path, skip: frozenset[str]) -> list[tuple[str, bytes]]:
    """Regular files under ``root`` (relative path, content); links and specials ignored."""
    found: list[tuple[str, bytes]] = []
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    while stack:
        directory, prefix, depth = stack.pop()
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False) and depth + 1 < _MAX_DEPTH:
                    stack.append((Path(entry.path), rel + "/", depth + 1))
                elif entry.is_file(follow_symlinks=False) and rel not in skip:
                    if len(found) >= _MAX_FILES:
                        raise OverflowError(f"more than {_MAX_FILES} files")
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    with os.fdopen(fd, "rb") as handle:
                        if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                            found.append((rel, handle.read()))
    return found


def save(handle: SessionHandle, work_dir: Path, skip: frozenset[str] = frozenset()) -> str:
    """Save ``work_dir`` as the session's files; ``""`` when saved, else why not.

    Call only once no process of the run can write. The new files are written beside the
    old ones and swapped in, so a failure leaves the previous state whole.
    """
    try:
        files = _tree(work_dir, skip)
    except OverflowError as e:
        return f"session {handle.name!r} not saved: the working directory holds {e}"
    size = sum(len(data) for _, data in files)
    if size > handle.quota:
        return (
            f"session {handle.name!r} not saved: its files take {size} bytes, over the quota "
            f"of {handle.quota} bytes; the files of the previous run are kept"
        )
    new = handle.path / "files.new"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(mode=0o700)
    for rel, data in files:
        target = new / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_bytes(data)
    old = handle.path / "files.old"
    shutil.rmtree(old, ignore_errors=True)
    if handle.files_dir.exists():
        handle.files_dir.rename(old)
    new.rename(handle.files_dir)
    shutil.rmtree(old, ignore_errors=True)
    (handle.path / ".used").touch()
    return ""
