"""The host side of one run: its code directory and its size-limited working directory.

Layout under ``settings.run_dir`` (root-owned, closed to other users)::

    <run-id>/                  a tmpfs of the run's own (mode 0711), holding:
        owner                  the pid of the process that made it (for the sweep)
        code/main.<ext>        the program, bound read-only at /sandbox
        code/stdin             its standard input
        etc/                   files a backend binds besides the program (:meth:`add_files`)
        work/                  a tmpfs of ``storage`` bytes owned by the sandbox user,
                               bound read-write at /work (input and output files)
        opt/<name>/            read-only overlays of host directories (:meth:`RunWorkspace.view`)

Everything a sandbox binds is the root of a file system or lies on the run's own tmpfs, so
the mount table a program reads (``/proc/self/mountinfo`` names the directory each mount
comes from) shows no host path: not the run directory, not the repository.

The working directory is a tmpfs mounted on the host, not inside the sandbox, so output
files can be collected once every process of the run is killed and past its last system
call (nothing can race the collection), and its pages are charged to the run's memory cgroup.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from masterai.sandbox.errors import ExecutionFailedError, InvalidRequestError
from masterai.sandbox.models import Limits

_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,127}$")
_MS_RDONLY, _MS_NOSUID, _MS_NODEV = 1, 2, 4
_MNT_DETACH = 2
_MAX_ENTRIES = 2000  # directory entries walked when collecting output files
_MAX_DEPTH = 4

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def validate_files(files: Mapping[str, bytes | str]) -> dict[str, bytes]:
    """Input files as ``name -> bytes``, names checked to be plain file names.

    Raises:
        InvalidRequestError: a name is empty, has a path separator or ``..``, or a content
            is neither bytes nor text.
    """
    if not isinstance(files, Mapping):
        raise InvalidRequestError(f"Invalid files: {files!r}. Expected a mapping name -> bytes")
    out: dict[str, bytes] = {}
    for name, content in files.items():
        if not isinstance(name, str) or not _FILE_NAME.match(name) or ".." in name:
            raise InvalidRequestError(
                f"Invalid input file name: {name!r}. Allowed: a plain name of letters, digits, "
                "'_', '-', '.' and spaces (no '/', no '..', not starting with '.' or '-')"
            )
        if isinstance(content, str):
            content = content.encode()
        if not isinstance(content, bytes | bytearray):
            raise InvalidRequestError(
                f"Invalid content for input file {name!r}: {type(content).__name__}. "
                "Expected bytes or str"
            )
        out[name] = bytes(content)
    return out


def _mount(source: bytes, target: Path, fstype: bytes, flags: int, options: str) -> None:
    if _libc.mount(source, os.fsencode(target), fstype, flags, options.encode()) != 0:
        err = ctypes.get_errno()
        raise ExecutionFailedError(
            f"Cannot mount the run's {fstype.decode()} on {str(target)!r}: {os.strerror(err)} "
            "(the sandbox needs root on the host, and tmpfs and overlay file systems)"
        )


def _umount(target: Path) -> None:
    # A plain unmount first: a lazy one makes the rmdir that follows wait for the kernel.
    if _libc.umount2(os.fsencode(target), 0) != 0:
        _libc.umount2(os.fsencode(target), _MNT_DETACH)


def _mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root`` in this mount namespace, parents before children."""
    found = []
    prefix = str(root) + "/"
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            # Field 5 is the mount point, with space, tab, newline and backslash as \ooo.
            point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), line.split()[4])
            path = os.fsdecode(point)
            if path == str(root) or path.startswith(prefix):
                found.append(Path(path))
    return sorted(found, key=lambda p: len(p.parts))  # stable: stacked mounts keep their order


@dataclass(kw_only=True)
class RunWorkspace:
    """Directories of one run on the host; :meth:`cleanup` removes every trace."""

    root: Path
    code_dir: Path
    work_dir: Path
    inputs: dict[str, bytes] = field(default_factory=dict)
    mounts: list[Path] = field(default_factory=list)
    """File systems mounted for the run, in order (unmounted in reverse by :meth:`cleanup`)."""

    release: Callable[[], None] | None = None
    """Called first by :meth:`cleanup`: ends a sandbox built ahead around this workspace."""

    @classmethod
    def create(
        cls,
        run_dir: Path,
        *,
        source_name: str,
        code: str,
        stdin: bytes,
        files: dict[str, bytes],
        limits: Limits,
        uid: int,
    ) -> RunWorkspace:
        """Lay out a new run's directories and write its program, stdin and input files."""
        ws = cls.prepare(run_dir, storage=limits.storage, uid=uid)
        try:
            ws.fill(source_name=source_name, code=code, stdin=stdin, files=files, uid=uid)
        except BaseException:
            ws.cleanup()
            raise
        return ws

    @classmethod
    def prepare(cls, run_dir: Path, *, storage: int, uid: int) -> RunWorkspace:
        """Lay out an empty run: its code directory and its working tmpfs of ``storage`` bytes."""
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        os.chmod(run_dir, 0o711)  # others may traverse to their bind mounts, never list
        root = run_dir / uuid.uuid4().hex
        root.mkdir(mode=0o711)
        ws = cls(root=root, code_dir=root / "code", work_dir=root / "work")
        try:
            # No size: only this process writes here (the sandbox binds it read-only).
            ws._mount(b"tmpfs", root, b"tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0711")
            (root / "owner").write_text(str(os.getpid()))
            ws.code_dir.mkdir(mode=0o755)
            ws.work_dir.mkdir(mode=0o700)
            opts = f"size={storage},mode=0700,uid={uid},gid={uid},nr_inodes=16384"
            ws._mount(b"tmpfs", ws.work_dir, b"tmpfs", _MS_NOSUID | _MS_NODEV, opts)
        except BaseException:
            ws.cleanup()
            raise
        return ws

    def _mount(self, source: bytes, target: Path, fstype: bytes, flags: int, opts: str) -> None:
        _mount(source, target, fstype, flags, opts)
        self.mounts.append(target)

    def add_files(self, files: Mapping[str, str]) -> dict[str, Path]:
        """Write read-only files for a backend to bind, on the run's tmpfs, outside ``code``.

        Returns:
            The host path of each file, by name.
        """
        directory = self.root / "etc"
        directory.mkdir(mode=0o755, exist_ok=True)
        paths = {name: directory / name for name in files}
        for name, content in files.items():
            paths[name].write_text(content)
            paths[name].chmod(0o644)
        return paths

    def view(self, name: str, source: Path) -> Path:
        """A read-only view of the host directory ``source``, at ``opt/<name>`` in the run.

        A bind mount of ``source`` would show its host path in the sandbox's mount table; an
        overlay of it is a file system of its own, rooted at ``/``, whose layers are named
        ``/proc/self/fd/N`` (an overlay without an upper layer needs two lower ones: the
        second is an empty directory). The mount is made as root, so ``source``'s parents
        need not be open to the sandbox user.

        Raises:
            ExecutionFailedError: the overlay could not be mounted.
        """
        target = self.root / "opt" / name
        target.mkdir(parents=True, mode=0o755)
        empty = self.root / "opt" / ".empty"
        empty.mkdir(mode=0o555, exist_ok=True)
        layers = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in (source, empty)]
        try:
            opts = "lowerdir=" + ":".join(f"/proc/self/fd/{fd}" for fd in layers)
            self._mount(b"masterai", target, b"overlay", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, opts)
        finally:
            for fd in layers:
                os.close(fd)
        return target

    def fill(
        self, *, source_name: str, code: str, stdin: bytes, files: dict[str, bytes], uid: int
    ) -> None:
        """Write the program and its stdin (read-only to the sandbox) and the input files."""
        (self.code_dir / source_name).write_text(code, encoding="utf-8")
        (self.code_dir / "stdin").write_bytes(stdin)
        for p in self.code_dir.iterdir():
            p.chmod(0o644)
        self.inputs = files
        self._write_inputs(uid)

    def add_code_file(self, name: str, text: str) -> None:
        """A read-only file beside the program (``/sandbox/<name>``): a run's policy, say."""
        path = self.code_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)

    def restore(self, files: Mapping[str, bytes], uid: int) -> None:
        """Put a session's saved files (relative paths) in the working directory.

        They count as inputs: returned as output files only if the run changes them.

        Raises:
            InvalidRequestError: they do not fit in the working directory.
        """
        for rel in files:
            parent = self.work_dir
            for part in rel.split("/")[:-1]:
                parent = parent / part
                if not parent.is_dir():
                    parent.mkdir(mode=0o755)
                    os.chown(parent, uid, uid)
        self.inputs = {**self.inputs, **files}
        self._write_inputs(uid, only=files)

    def _write_inputs(self, uid: int, only: Mapping[str, bytes] | None = None) -> None:
        for name, content in (self.inputs if only is None else only).items():
            path = self.work_dir / name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except OSError as e:
                raise InvalidRequestError(f"Cannot create input file {name!r}: {e}") from e
            try:
                view = memoryview(content)
                while view:  # a full tmpfs first takes what fits, then says ENOSPC
                    view = view[os.write(fd, view) :]
                os.fchown(fd, uid, uid)
            except OSError as e:
                raise InvalidRequestError(
                    f"Input files do not fit in the working directory: {name!r} ({e})"
                ) from e
            finally:
                os.close(fd)

    def collect(self, limits: Limits) -> tuple[dict[str, bytes], bool]:
        """Regular files left in the working directory, and whether any were left out.

        Symlinks, devices, FIFOs and sockets are never followed or read; input files left
        unchanged are not returned. Call only once no process of the run can write
        (:meth:`~masterai.sandbox.cgroups.RunCgroup.kill_all` has returned).
        """
        files: dict[str, bytes] = {}
        truncated = False
        budget = _MAX_ENTRIES
        stack: list[tuple[Path, str, int]] = [(self.work_dir, "", 0)]
        while stack:
            directory, prefix, depth = stack.pop()
            with os.scandir(directory) as it:
                for entry in sorted(it, key=lambda e: e.name):
                    budget -= 1
                    if budget < 0:
                        return files, True
                    rel = prefix + entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if depth + 1 < _MAX_DEPTH:
                            stack.append((Path(entry.path), rel + "/", depth + 1))
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    content = self._read_regular(Path(entry.path), limits.max_output_file_size)
                    if content is None:
                        truncated = True
                    elif self.inputs.get(rel) != content:
                        if len(files) >= limits.max_output_files:
                            truncated = True
                        else:
                            files[rel] = content
        return files, truncated

    @staticmethod
    def _read_regular(path: Path, cap: int) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
                return None
            chunks, total = [], 0
            while chunk := os.read(fd, 1 << 20):
                total += len(chunk)
                if total > cap:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    @staticmethod
    def sweep(run_dir: Path) -> list[Path]:
        """Remove run directories whose owning process is gone (it died mid-run).

        Returns the directories removed. Runs of live processes are left alone.
        """
        removed = []
        for root in run_dir.glob("*/owner") if run_dir.is_dir() else []:
            try:
                os.kill(int(root.read_text()), 0)
                continue  # the owner lives
            except ProcessLookupError:
                pass
            except (OSError, ValueError):
                continue
            ws = RunWorkspace(
                root=root.parent,
                code_dir=root.parent / "code",
                work_dir=root.parent / "work",
                mounts=_mounts_under(root.parent),
            )
            ws.cleanup()
            removed.append(ws.root)
        return removed

    def cleanup(self) -> None:
        """End the sandbox built around the run, if any, then remove its directories."""
        if self.release is not None:
            self.release()
        while self.mounts:
            _umount(self.mounts.pop())
        shutil.rmtree(self.root, ignore_errors=True)
