"""The company-isolated workspace: :class:`WorkspaceService`, the one door to workspace files.

Every tool that touches workspace files (the ``filesystem`` tool, the ``code`` tool's input
files and output directory, reports, imports, and every later tool) goes through this
service. The workspace root holds three areas::

    companies/<company id>/...   company data: reports, exports, uploads, datasets, outputs
    users/<user name>/...        private to that user (super admins included: nobody else)
    shared/...                   readable by everyone, written by super admins

Rules (see ``docs/workspace.md``):

- A path is relative, ``/``-separated, without ``..`` or NUL bytes, and lies in an area;
  anything else is refused (:class:`WorkspacePathError`) before any file is touched.
- ``companies/<id>/...`` is read with ``data_access.can_read(id)`` and written with
  ``can_write(id)``; ``users/<name>/...`` only by the principal called ``name``;
  ``shared/...`` is read by everyone and written by super admins. The root and the area
  folders are listed (showing only what the principal may see) but never written.
- Paths are opened one component at a time from a directory file descriptor with
  ``O_NOFOLLOW``, so no symbolic link is ever followed, even one swapped in mid-operation.
  A regular file with more than one hard link is never read or replaced: a planted link
  could expose a file from outside the workspace.
- Writes are atomic: a temporary file in the same directory, then a rename (or a link when
  the file must not exist yet, so an existing file is never replaced by accident).

Errors (the tools turn them into results: a path error is invalid input, an access error a
denial, anything else a failure)::

    SecurityError
    └── WorkspaceError                  anything the workspace refuses
        ├── WorkspacePathError          malformed path, or outside the areas
        ├── WorkspaceAccessDenied       the principal may not read or write there
        └── WorkspaceFileError          what is (or is not) on disk: missing, not a file, ...
            ├── WorkspaceFileExists     the file exists and the caller asked not to replace it
            └── UnsafeWorkspaceFile     a symbolic link, or a file with several hard links
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from masterai.security.directory import COMPANY_ID, USER_NAME
from masterai.security.errors import SecurityError
from masterai.security.principals import Principal

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted in the workspace must not hang (it is refused after).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_TEMP_PREFIX = ".masterai-"
_TEMP_SUFFIX = ".tmp"
_MAX_NAME_BYTES = 255
_MAX_PATH_BYTES = 4096
MAX_DEPTH = 64
"""Directory levels :meth:`WorkspaceService.walk` descends at most."""
ALLOWED = "companies/<company id>/..., users/<your user name>/... or shared/..."
"""What a workspace path may look like (for messages)."""


class WorkspaceError(SecurityError):
    """Root of what the workspace refuses; the message names the path and what is allowed."""


class WorkspacePathError(WorkspaceError):
    """A path is malformed or outside the workspace areas."""

    def __init__(self, message: str, key: str = "path") -> None:
        super().__init__(message)
        self.key = key
        """The argument the path came from (``path``, ``input_files[0]``, ...)."""


class WorkspaceAccessDenied(WorkspaceError):
    """The principal may not read or write that path."""


class WorkspaceFileError(WorkspaceError):
    """The file system state does not allow the operation (missing, not a file, ...)."""


class WorkspaceFileExists(WorkspaceFileError):
    """The target exists and the caller asked not to replace it."""


class UnsafeWorkspaceFile(WorkspaceFileError):
    """A symbolic link where a file or directory was expected, or a multiply linked file."""


class Area(StrEnum):
    """The top-level folders of the workspace (one vocabulary, imported everywhere)."""

    COMPANIES = "companies"
    USERS = "users"
    SHARED = "shared"


class Access(StrEnum):
    """What a principal wants to do with a path."""

    READ = "read"
    WRITE = "write"


class EntryKind(StrEnum):
    """What a directory entry is."""

    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symbolic link"
    OTHER = "other"


@dataclass(frozen=True, kw_only=True)
class WorkspacePath:
    """A checked workspace path: its components, never a host path."""

    parts: tuple[str, ...]
    """Components from the root down (``()`` is the root itself)."""

    @property
    def text(self) -> str:
        """The path as shown in messages and results (``.`` for the root)."""
        return "/".join(self.parts) or "."

    @property
    def area(self) -> Area | None:
        """The area the path lies in (``None`` for the root)."""
        return Area(self.parts[0]) if self.parts else None

    @property
    def owner(self) -> str | None:
        """The company id (``companies/``) or user name (``users/``) the path belongs to."""
        if self.area in (Area.COMPANIES, Area.USERS) and len(self.parts) > 1:
            return self.parts[1]
        return None

    @property
    def name(self) -> str:
        """The last component (``.`` for the root)."""
        return self.parts[-1] if self.parts else "."

    @property
    def parent(self) -> WorkspacePath:
        """The directory holding this path (the root is its own parent)."""
        return WorkspacePath(parts=self.parts[:-1])

    @property
    def is_container(self) -> bool:
        """Whether this is the root, an area folder or a company or user folder.

        Files live inside them; they themselves are created on demand and never written.
        """
        owned = self.area in (Area.COMPANIES, Area.USERS)
        return len(self.parts) <= (2 if owned else 1)

    def child(self, name: str) -> WorkspacePath:
        """The path of ``name`` inside this directory (``name`` is one component)."""
        return WorkspacePath(parts=(*self.parts, name))

    def contains(self, other: WorkspacePath) -> bool:
        """Whether ``other`` is this path or lies below it."""
        return other.parts[: len(self.parts)] == self.parts

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, kw_only=True)
class WorkspaceEntry:
    """One file or directory as the workspace shows it."""

    path: str
    """Workspace-relative path."""
    name: str
    kind: EntryKind
    size: int
    modified: float
    """Seconds since the epoch."""
    mode: int
    """``st_mode`` (for :func:`stat.filemode`)."""


def as_principal(requester: Any) -> Principal:
    """``requester`` as a :class:`Principal`; anything else may touch no workspace file.

    Raises:
        WorkspaceAccessDenied: ``requester`` is not a principal (deny by default).
    """
    if isinstance(requester, Principal):
        return requester
    raise WorkspaceAccessDenied(
        f"Permission denied: workspace files need a known principal, got {requester!r}"
    )


def _is_temporary(name: str) -> bool:
    return name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)


def _holds_no_files(directory: WorkspacePath) -> bool:
    """Whether files may not be put directly in ``directory`` (the root, ``companies/``...)."""
    if not directory.parts:
        return True
    owned = directory.area in (Area.COMPANIES, Area.USERS)
    return owned and len(directory.parts) < 2


def _is_link(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _entry(path: WorkspacePath, info: os.stat_result) -> WorkspaceEntry:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        kind = EntryKind.SYMLINK
    elif stat.S_ISDIR(mode):
        kind = EntryKind.DIRECTORY
    elif stat.S_ISREG(mode):
        kind = EntryKind.FILE
    else:
        kind = EntryKind.OTHER
    return WorkspaceEntry(
        path=path.text,
        name=path.name,
        kind=kind,
        size=info.st_size,
        modified=info.st_mtime,
        mode=mode,
    )


def _os_error(error: OSError, shown: str) -> WorkspaceFileError:
    """An OS refusal as a workspace error naming the workspace path (never the host path)."""
    if error.errno == errno.ELOOP:
        return UnsafeWorkspaceFile(
            f"{shown!r} is a symbolic link; the workspace never follows links"
        )
    if error.errno == errno.ENOENT:
        return WorkspaceFileError(f"{shown!r} does not exist")
    if error.errno == errno.EEXIST:
        return WorkspaceFileExists(f"{shown!r} already exists")
    if error.errno == errno.ENOTDIR:
        return WorkspaceFileError(f"{shown!r}: a component of the path is not a directory")
    if error.errno == errno.EISDIR:
        return WorkspaceFileError(f"{shown!r} is a directory")
    reason = error.strerror or type(error).__name__
    return WorkspaceFileError(f"{shown!r}: {reason}")


class WorkspaceService:
    """Workspace files for principals, confined to the areas they may use.

    Every method takes the acting principal and a workspace path as given by the caller
    (``key`` names the argument in messages) and raises a :class:`WorkspaceError` naming the
    workspace path when it refuses (see the module docstring); no ``OSError`` escapes. Safe
    to share between threads.

    Args:
        root: The workspace directory (``settings.workspace``); created on first use.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._areas_ready = False

    @property
    def root(self) -> Path:
        """The workspace directory on the host (never shown to principals)."""
        return self._root

    # --- paths and permissions ----------------------------------------------------------

    def parse(self, path: Any, *, key: str = "path") -> WorkspacePath:
        """Check the form of ``path`` (nothing is touched, no principal needed).

        Raises:
            WorkspacePathError: not a string, NUL bytes, absolute, ``..``, too long, or
                outside the areas (or a company id / user name that cannot be one).
        """
        if not isinstance(path, str):
            raise WorkspacePathError(f"'{key}' must be a string path, got {path!r}", key)
        if "\0" in path:
            raise WorkspacePathError(f"'{key}' must not contain NUL bytes; got {path!r}", key)
        if path.startswith(("/", "~")):
            raise WorkspacePathError(
                f"'{key}' must be relative to the workspace; got absolute path {path!r}. "
                f"Allowed: {ALLOWED}",
                key,
            )
        parts = tuple(p for p in path.split("/") if p not in ("", "."))
        if ".." in parts:
            raise WorkspacePathError(
                f"'{key}' must not contain '..'; got {path!r}. Allowed: {ALLOWED}", key
            )
        if len(path.encode()) > _MAX_PATH_BYTES or any(
            len(p.encode()) > _MAX_NAME_BYTES for p in parts
        ):
            raise WorkspacePathError(f"'{key}' {path[:80]!r}... is too long", key)
        if parts and parts[0] not in set(Area):
            raise WorkspacePathError(
                f"'{key}' {path!r} is outside the workspace areas. Allowed: {ALLOWED}", key
            )
        checked = WorkspacePath(parts=parts)
        owner = checked.owner
        if owner is not None:
            if checked.area is Area.COMPANIES and not COMPANY_ID.fullmatch(owner):
                raise WorkspacePathError(
                    f"'{key}' {path!r}: {owner!r} is not a company id (lowercase letters, "
                    "digits, '-' and '_')",
                    key,
                )
            if checked.area is Area.USERS and not USER_NAME.fullmatch(owner):
                raise WorkspacePathError(f"'{key}' {path!r}: {owner!r} is not a user name", key)
        return checked

    def may(self, principal: Principal, path: WorkspacePath, access: Access) -> bool:
        """Whether ``principal`` may ``access`` ``path`` (no file is touched)."""
        return self._denial(principal, path, access) is None

    def check(self, principal: Principal, path: WorkspacePath, access: Access) -> None:
        """Refuse unless ``principal`` may ``access`` ``path``.

        Raises:
            WorkspaceAccessDenied: with what is allowed.
        """
        denial = self._denial(principal, path, access)
        if denial is not None:
            raise WorkspaceAccessDenied(f"Permission denied: {denial}")

    def check_directory(
        self, principal: Principal, path: str, access: Access, *, key: str = "path"
    ) -> WorkspacePath:
        """Refuse unless ``principal`` may ``access`` files inside directory ``path``.

        Nothing is touched: the directory may not exist yet (a write creates it).

        Raises:
            WorkspacePathError: ``path`` is malformed.
            WorkspaceAccessDenied: with what is allowed.
        """
        target = self.parse(path, key=key)
        denial = self._denial(principal, target, access, inside=True)
        if denial is not None:
            raise WorkspaceAccessDenied(f"Permission denied: {denial}")
        return target

    def _denial(
        self, principal: Principal, path: WorkspacePath, access: Access, *, inside: bool = False
    ) -> str | None:
        who = repr(principal.name)
        data = principal.permissions.data_access
        if access is Access.WRITE and (_holds_no_files(path) if inside else path.is_container):
            return (
                f"{path.text!r} is a workspace folder (made on demand, never written, moved or "
                f"deleted); work with what is inside: {ALLOWED}"
            )
        owner = path.owner
        if path.area is Area.COMPANIES and owner is not None:
            if access is Access.READ and not data.can_read(owner):
                return f"{who} may not read {path.text!r} (no read access to company {owner!r})"
            if access is Access.WRITE and not data.can_write(owner):
                return f"{who} may not write {path.text!r} (no write access to company {owner!r})"
        elif path.area is Area.USERS and owner is not None and owner != principal.name:
            return f"{path.text!r} is private to user {owner!r}"
        elif path.area is Area.SHARED and access is Access.WRITE and not principal.is_super_admin:
            return f"only super admins may write in 'shared/' ({path.text!r})"
        return None

    def visible_areas(self, principal: Principal) -> list[Area]:
        """The areas listed at the root for ``principal``."""
        data = principal.permissions.data_access
        areas = []
        if data.read_companies or data.write_companies:
            areas.append(Area.COMPANIES)
        areas.append(Area.SHARED)
        if USER_NAME.fullmatch(principal.name):
            areas.append(Area.USERS)
        return sorted(areas)

    def _visible(self, principal: Principal, path: WorkspacePath) -> bool:
        """Whether a directory entry is shown to ``principal`` (listings, walks)."""
        if len(path.parts) == 1:
            return path.parts[0] in self.visible_areas(principal)
        try:
            checked = self.parse("/".join(path.parts))
        except WorkspacePathError:
            return False  # a stray entry (a company folder named 'ACME'): never shown
        return self.may(principal, checked, Access.READ)

    def _checked(self, principal: Principal, path: str, access: Access, key: str) -> WorkspacePath:
        checked = self.parse(path, key=key)
        self.check(principal, checked, access)
        return checked

    # --- descriptors ----------------------------------------------------------------------

    def _open_root(self) -> int:
        # The root itself is the operator's choice (it may be a link); below it, nothing is.
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        try:
            try:
                fd = os.open(self._root, flags)
            except FileNotFoundError:
                self._root.mkdir(parents=True, exist_ok=True)
                self._areas_ready = False
                fd = os.open(self._root, flags)
        except OSError as e:
            raise WorkspaceFileError(f"the workspace cannot be opened: {e.strerror}") from e
        if not self._areas_ready:
            for area in Area:
                try:
                    with suppress(FileExistsError):
                        os.mkdir(area.value, 0o755, dir_fd=fd)
                except OSError as e:
                    os.close(fd)
                    raise _os_error(e, area.value) from e
            self._areas_ready = True
        return fd

    @contextmanager
    def _directory(
        self, path: WorkspacePath, *, create: bool = False, writing: bool = False
    ) -> Iterator[int]:
        """A descriptor of directory ``path``, opened component by component, no links.

        ``create`` makes every missing directory; ``writing`` only the company and user
        folders, which exist on demand (nobody can create them explicitly).

        Raises:
            WorkspaceFileError: a component is missing (unless created), not a directory,
                or a symbolic link.
        """
        fd = self._open_root()
        try:
            for depth, name in enumerate(path.parts, 1):
                partial = WorkspacePath(parts=path.parts[:depth])
                make = create or (writing and partial.is_container)
                child = self._open_child(fd, name, partial.text, create=make)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _open_child(parent: int, name: str, shown: str, *, create: bool) -> int:
        for _ in range(3):  # a directory created or removed concurrently: try again
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError as e:
                if not create:
                    raise WorkspaceFileError(f"Directory {shown!r} does not exist") from e
                try:
                    with suppress(FileExistsError):
                        os.mkdir(name, 0o755, dir_fd=parent)
                except OSError as e2:
                    raise _os_error(e2, shown) from e2
            except OSError as e:
                if e.errno in (errno.ENOTDIR, errno.ELOOP):
                    if _is_link(parent, name):
                        raise _os_error(OSError(errno.ELOOP, "link"), shown) from e
                    raise WorkspaceFileError(f"{shown!r} is not a directory") from e
                raise _os_error(e, shown) from e
        raise WorkspaceFileError(f"Directory {shown!r} changed while it was opened; try again")

    @staticmethod
    def _lstat(parent: int, path: WorkspacePath) -> os.stat_result | None:
        try:
            return os.stat(path.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise _os_error(e, path.text) from e

    @staticmethod
    def _open_file(parent: int, path: WorkspacePath) -> tuple[int, os.stat_result]:
        """Open regular file ``path`` for reading: no link followed, a single hard link."""
        try:
            fd = os.open(path.name, _FILE_FLAGS, dir_fd=parent)
        except OSError as e:
            raise _os_error(e, path.text) from e
        info = os.fstat(fd)
        problem: WorkspaceFileError | None = None
        if stat.S_ISDIR(info.st_mode):
            problem = WorkspaceFileError(f"{path.text!r} is a directory, not a file")
        elif not stat.S_ISREG(info.st_mode):
            problem = WorkspaceFileError(f"{path.text!r} is not a regular file")
        elif info.st_nlink > 1:
            problem = _hard_link(path, info)
        if problem is not None:
            os.close(fd)
            raise problem
        return fd, info

    # --- reading ----------------------------------------------------------------------

    def read_bytes(
        self,
        principal: Principal,
        path: str,
        *,
        max_bytes: int | None = None,
        key: str = "path",
    ) -> bytes:
        """The content of a regular file (refused: links, several hard links, too large)."""
        target = self._checked(principal, path, Access.READ, key)
        if not target.parts:
            raise WorkspaceFileError("'.' is the workspace root, not a file")
        with self._directory(target.parent) as parent:
            fd, info = self._open_file(parent, target)
            with os.fdopen(fd, "rb") as handle:
                if max_bytes is not None and info.st_size > max_bytes:
                    raise _too_large(target, "is", info.st_size, max_bytes)
                data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise _too_large(target, "is more than", max_bytes, max_bytes)
        return data

    @contextmanager
    def open_file(
        self, principal: Principal, path: str, *, key: str = "path"
    ) -> Iterator[BinaryIO]:
        """A regular file opened for reading, for files too large to hold in memory.

        The same checks as :meth:`read_bytes` (no link followed, a single hard link); the
        handle is closed when the block ends.
        """
        target = self._checked(principal, path, Access.READ, key)
        if not target.parts:
            raise WorkspaceFileError("'.' is the workspace root, not a file")
        with self._directory(target.parent) as parent:
            fd, _ = self._open_file(parent, target)
        with os.fdopen(fd, "rb") as handle:
            yield handle

    def info(self, principal: Principal, path: str, *, key: str = "path") -> WorkspaceEntry:
        """What ``path`` is (a link is described, not followed)."""
        target = self._checked(principal, path, Access.READ, key)
        if not target.parts:
            with self._directory(target) as fd:
                return _entry(target, os.fstat(fd))
        with self._directory(target.parent) as parent:
            found = self._lstat(parent, target)
        if found is None:
            raise WorkspaceFileError(f"{target.text!r} does not exist")
        return _entry(target, found)

    def exists(self, principal: Principal, path: str, *, key: str = "path") -> bool:
        """Whether something is at ``path`` (a missing parent directory counts as no).

        Raises:
            WorkspaceError: the path is malformed or may not be read.
        """
        target = self._checked(principal, path, Access.READ, key)
        if not target.parts:
            return True
        try:
            with self._directory(target.parent) as parent:
                return self._lstat(parent, target) is not None
        except UnsafeWorkspaceFile:
            raise
        except WorkspaceFileError:
            return False

    def list_directory(
        self, principal: Principal, path: str = ".", *, key: str = "path"
    ) -> list[WorkspaceEntry]:
        """The entries of a directory that ``principal`` may see, sorted by name."""
        target = self._checked(principal, path, Access.READ, key)
        with self._directory(target) as fd:
            return list(self._entries(principal, fd, target))

    def _entries(
        self, principal: Principal, fd: int, directory: WorkspacePath
    ) -> Iterator[WorkspaceEntry]:
        try:
            names = sorted(os.listdir(fd))
        except OSError as e:
            raise _os_error(e, directory.text) from e
        for name in names:
            child = directory.child(name)
            if _is_temporary(name) or not self._visible(principal, child):
                continue
            found = self._lstat(fd, child)
            if found is not None:  # removed meanwhile: not listed
                yield _entry(child, found)

    def walk(
        self, principal: Principal, path: str = ".", *, key: str = "path"
    ) -> Generator[WorkspaceEntry, None, None]:
        """Every entry below ``path`` that ``principal`` may see, depth first, sorted.

        Links are reported, never followed; at most :data:`MAX_DEPTH` levels. Close the
        iterator (or exhaust it) to release its descriptors.
        """
        target = self._checked(principal, path, Access.READ, key)
        with self._directory(target) as fd:
            yield from self._walk(principal, fd, target, 0)

    def _walk(
        self, principal: Principal, fd: int, directory: WorkspacePath, depth: int
    ) -> Iterator[WorkspaceEntry]:
        for entry in self._entries(principal, fd, directory):
            yield entry
            if entry.kind is not EntryKind.DIRECTORY or depth >= MAX_DEPTH:
                continue
            try:
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue  # swapped for a link or removed since it was listed
            try:
                yield from self._walk(principal, child, directory.child(entry.name), depth + 1)
            finally:
                os.close(child)

    def has_entries(self, path: str) -> bool:
        """Whether directory ``path`` exists and holds anything (no principal, no details).

        Only for deciding whether a call must be approved before it runs (files could be
        replaced); any problem with the path answers ``False`` and is reported by the call.
        """
        try:
            target = self.parse(path)
            with self._directory(target) as fd:
                return any(not _is_temporary(name) for name in os.listdir(fd))
        except (WorkspaceError, OSError):
            return False

    # --- writing ------------------------------------------------------------------------

    def write_bytes(
        self,
        principal: Principal,
        path: str,
        data: bytes,
        *,
        replace: bool,
        create_parents: bool = True,
        key: str = "path",
    ) -> bool:
        """Write ``data`` to ``path`` atomically; whether an existing file was replaced.

        Args:
            principal: who writes.
            path: the file's workspace path.
            data: the whole new content.
            replace: an existing file may be replaced (the caller obtained approval);
                otherwise an existing file is left as it is and :class:`WorkspaceFileExists`
                raised.
            create_parents: create missing directories on the way.
            key: the argument ``path`` came from, for messages.
        """
        target = self._checked(principal, path, Access.WRITE, key)
        with self._directory(target.parent, create=create_parents, writing=True) as parent:
            existing = self._replaceable(parent, target)
            if existing is not None and not replace:
                raise WorkspaceFileExists(f"{target.text!r} already exists")
            mode = stat.S_IMODE(existing.st_mode) & 0o777 if existing is not None else None
            self._commit(parent, target, data, mode=mode, replace=existing is not None)
        return existing is not None

    def write_stream(
        self,
        principal: Principal,
        path: str,
        source: BinaryIO,
        *,
        replace: bool,
        create_parents: bool = True,
        key: str = "path",
    ) -> bool:
        """:meth:`write_bytes` for content read from ``source`` (copied in chunks)."""
        target = self._checked(principal, path, Access.WRITE, key)
        with self._directory(target.parent, create=create_parents, writing=True) as parent:
            existing = self._replaceable(parent, target)
            if existing is not None and not replace:
                raise WorkspaceFileExists(f"{target.text!r} already exists")
            mode = stat.S_IMODE(existing.st_mode) & 0o777 if existing is not None else None
            self._commit(parent, target, source, mode=mode, replace=existing is not None)
        return existing is not None

    def append_bytes(
        self,
        principal: Principal,
        path: str,
        data: bytes,
        *,
        max_bytes: int | None = None,
        key: str = "path",
    ) -> int:
        """Append ``data`` to a file (created if missing), atomically; the new size.

        Raises:
            WorkspaceError: see the module docstring (also when the result would exceed
                ``max_bytes``).
        """
        target = self._checked(principal, path, Access.WRITE, key)
        with self._directory(target.parent, create=True) as parent:
            existing = self._replaceable(parent, target)
            current = b""
            if existing is not None:
                fd, _ = self._open_file(parent, target)
                with os.fdopen(fd, "rb") as handle:
                    current = handle.read()
            combined = current + data
            if max_bytes is not None and len(combined) > max_bytes:
                raise _too_large(target, "would be", len(combined), max_bytes)
            mode = stat.S_IMODE(existing.st_mode) & 0o777 if existing is not None else None
            self._commit(parent, target, combined, mode=mode, replace=existing is not None)
        return len(combined)

    def _replaceable(self, parent: int, target: WorkspacePath) -> os.stat_result | None:
        """What is at ``target`` now, if it is a file that may be replaced (else refuse)."""
        found = self._lstat(parent, target)
        if found is None:
            return None
        if stat.S_ISDIR(found.st_mode):
            raise WorkspaceFileError(f"{target.text!r} is a directory")
        if stat.S_ISLNK(found.st_mode):
            raise UnsafeWorkspaceFile(
                f"{target.text!r} is a symbolic link; the workspace never writes through links "
                "(delete it first)"
            )
        if not stat.S_ISREG(found.st_mode):
            raise WorkspaceFileError(f"{target.text!r} is not a regular file")
        if found.st_nlink > 1:
            raise _hard_link(target, found)
        return found

    @staticmethod
    def _commit(
        parent: int,
        target: WorkspacePath,
        data: bytes | BinaryIO,
        *,
        mode: int | None,
        replace: bool,
    ) -> None:
        """Write a temporary file beside ``target``, then rename (or link) it into place."""
        temporary = f"{_TEMP_PREFIX}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(temporary, flags, 0o644, dir_fd=parent)
        except OSError as e:
            raise _os_error(e, target.parent.text) from e
        try:
            with os.fdopen(fd, "wb") as handle:
                if isinstance(data, bytes):
                    handle.write(data)
                else:
                    shutil.copyfileobj(data, handle)
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(temporary, target.name, src_dir_fd=parent, dst_dir_fd=parent)
            else:
                # link() fails if anything appeared at the name meanwhile: never replaces.
                os.link(
                    temporary,
                    target.name,
                    src_dir_fd=parent,
                    dst_dir_fd=parent,
                    follow_symlinks=False,
                )
        except OSError as e:
            raise _os_error(e, target.text) from e
        finally:
            with suppress(FileNotFoundError):  # gone when it was renamed into place
                os.unlink(temporary, dir_fd=parent)

    def make_directory(self, principal: Principal, path: str, *, key: str = "path") -> None:
        """Create directory ``path`` and missing parents; it must not exist yet."""
        target = self._checked(principal, path, Access.WRITE, key)
        with self._directory(target.parent, create=True) as parent:
            try:
                os.mkdir(target.name, 0o755, dir_fd=parent)
            except OSError as e:
                raise _os_error(e, target.text) from e

    def delete(
        self, principal: Principal, path: str, *, recursive: bool = False, key: str = "path"
    ) -> None:
        """Delete a file, a link (never its target) or a directory.

        A file with several hard links may be deleted: that removes only this name.
        """
        target = self._checked(principal, path, Access.WRITE, key)
        with self._directory(target.parent) as parent:
            found = self._lstat(parent, target)
            if found is None:
                raise WorkspaceFileError(f"{target.text!r} does not exist")
            try:
                if not stat.S_ISDIR(found.st_mode):
                    os.unlink(target.name, dir_fd=parent)
                elif recursive:
                    # The descriptor-based rmtree: it never follows a link swapped in.
                    shutil.rmtree(target.name, dir_fd=parent)
                else:
                    os.rmdir(target.name, dir_fd=parent)
            except OSError as e:
                if e.errno == errno.ENOTEMPTY:
                    raise WorkspaceFileError(
                        f"Directory {target.text!r} is not empty; delete it recursively "
                        "(recursive=true) to remove it and everything in it"
                    ) from e
                raise _os_error(e, target.text) from e

    def move(
        self,
        principal: Principal,
        source: str,
        destination: str,
        *,
        source_key: str = "source",
        destination_key: str = "destination",
    ) -> None:
        """Move or rename ``source`` to ``destination``, which must not exist.

        Needs write access to both. Links and multiply linked files move as entries (their
        content is neither read nor followed).
        """
        origin = self._checked(principal, source, Access.WRITE, source_key)
        target = self._checked(principal, destination, Access.WRITE, destination_key)
        if origin.contains(target):
            raise WorkspaceFileError(f"Cannot move {origin.text!r} into itself")
        with (
            self._directory(origin.parent) as source_dir,
            self._directory(target.parent, writing=True) as target_dir,
        ):
            if self._lstat(source_dir, origin) is None:
                raise WorkspaceFileError(f"{origin.text!r} does not exist")
            if self._lstat(target_dir, target) is not None:
                raise WorkspaceFileExists(f"{target.text!r} already exists")
            try:
                os.rename(origin.name, target.name, src_dir_fd=source_dir, dst_dir_fd=target_dir)
            except OSError as e:
                raise _os_error(e, origin.text) from e

    def copy_file(
        self,
        principal: Principal,
        source: str,
        destination: str,
        *,
        max_bytes: int | None = None,
        source_key: str = "source",
        destination_key: str = "destination",
    ) -> int:
        """Copy a regular file to ``destination`` (must not exist; its directory must).

        Returns:
            The bytes copied.
        """
        target = self._checked(principal, destination, Access.WRITE, destination_key)
        data = self.read_bytes(principal, source, max_bytes=max_bytes, key=source_key)
        self.write_bytes(
            principal, target.text, data, replace=False, create_parents=False, key=destination_key
        )
        return len(data)


def _too_large(path: WorkspacePath, verb: str, size: int, limit: int) -> WorkspaceFileError:
    return WorkspaceFileError(f"{path.text!r} {verb} {size} bytes; the limit is {limit} bytes")


def _hard_link(path: WorkspacePath, info: os.stat_result) -> UnsafeWorkspaceFile:
    return UnsafeWorkspaceFile(
        f"{path.text!r} has {info.st_nlink} hard links; files with more than one link are "
        "refused (a link could expose a file from outside the workspace). Delete it, or copy "
        "the content into a new file"
    )


__all__ = [
    "ALLOWED",
    "MAX_DEPTH",
    "Access",
    "Area",
    "EntryKind",
    "UnsafeWorkspaceFile",
    "WorkspaceAccessDenied",
    "WorkspaceEntry",
    "WorkspaceError",
    "WorkspaceFileError",
    "WorkspaceFileExists",
    "WorkspacePath",
    "WorkspacePathError",
    "WorkspaceService",
    "as_principal",
]
