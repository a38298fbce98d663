"""One cgroup per run, on cgroup v1 (legacy or hybrid) and v2 (unified).

A run's cgroup caps memory with swap counted, processes and threads (pids) and CPU time
(CFS quota), tells afterwards whether the OOM killer fired, and kills every process left in
it. The run's first process moves itself in between ``fork`` and ``exec`` by writing ``0``
to each ``cgroup.procs`` in :attr:`RunCgroup.procs_files`, so nothing it starts escapes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.models import Limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpu")
_CFS_PERIOD_US = 100_000


def _creator_alive(name: str) -> bool:
    """Whether the process a ``run-<pid>-<id>`` cgroup is named after is alive."""
    pid = name.split("-")[1] if name.count("-") >= 2 else ""
    if not pid.isdigit():
        return False  # an older name without a pid: only emptiness protects it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_PF_EXITING = 0x4  # task flag: the thread is in do_exit


def _exiting(tid: int) -> bool:
    """Whether thread ``tid`` is exiting or gone (``/proc/TID/stat``: state and flags)."""
    try:
        with open(f"/proc/{tid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return fields[0] in (b"Z", b"X") or bool(int(fields[6]) & _PF_EXITING)


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise ExecutionFailedError(f"Cannot write {value!r} to {path}: {e}") from e


def _v1_mounts() -> dict[str, Path]:
    """Mount point of each cgroup v1 controller we use, from ``/proc/self/mounts``."""
    found: dict[str, Path] = {}
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[2] != "cgroup":
                continue
            options = set(parts[3].split(","))
            for ctrl in _V1_CONTROLLERS:
                if ctrl in options and ctrl not in found:
                    found[ctrl] = Path(parts[1])
    return found


@dataclass(frozen=True, kw_only=True)
class CgroupLayout:
    """Where runs' cgroups are created on this host."""

    version: int
    """1 (legacy or hybrid hierarchy) or 2 (unified)."""
    parents: dict[str, Path]
    """v1: controller name -> parent directory; v2: ``{"unified": parent}``."""

    @classmethod
    def detect(cls, parent_name: str) -> CgroupLayout:
        """Find the hierarchy and create the parent cgroup ``parent_name`` if needed.

        Raises:
            BackendUnavailableError: no usable cgroup controllers, or no permission.
        """
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", parent_name):
            raise BackendUnavailableError(f"Invalid cgroup_parent: {parent_name!r}")
        try:
            if (CGROUP_ROOT / "cgroup.controllers").exists():
                return cls._detect_v2(parent_name)
            return cls._detect_v1(parent_name)
        except OSError as e:
            raise BackendUnavailableError(
                f"Cannot create cgroups under {CGROUP_ROOT} ({e}). The bubblewrap backend "
                "needs root or a delegated cgroup to enforce memory, pids and CPU limits; "
                "run as root, or use the docker backend"
            ) from e

    @classmethod
    def _detect_v1(cls, parent_name: str) -> CgroupLayout:
        mounts = _v1_mounts()
        missing = [c for c in _V1_CONTROLLERS if c not in mounts]
        if missing:
            raise BackendUnavailableError(
                f"cgroup v1 controllers not mounted: {', '.join(missing)} (need memory, pids, "
                "cpu); mount them or boot with the unified cgroup v2 hierarchy"
            )
        parents = {c: mounts[c] / parent_name for c in _V1_CONTROLLERS}
        for path in parents.values():
            path.mkdir(exist_ok=True)
        return cls(version=1, parents=parents)

    @classmethod
    def _detect_v2(cls, parent_name: str) -> CgroupLayout:
        wanted = {"memory", "pids", "cpu"}
        available = set((CGROUP_ROOT / "cgroup.controllers").read_text().split())
        if not wanted <= available:
            raise BackendUnavailableError(
                f"cgroup v2 controllers missing: {', '.join(sorted(wanted - available))}"
            )
        parent = CGROUP_ROOT / parent_name
        parent.mkdir(exist_ok=True)
        enable = " ".join(f"+{c}" for c in sorted(wanted))
        for path in (CGROUP_ROOT, parent):
            enabled = set((path / "cgroup.subtree_control").read_text().split())
            if not wanted <= enabled:
                (path / "cgroup.subtree_control").write_text(enable)
        return cls(version=2, parents={"unified": parent})

    def remove_stale(self) -> None:
        """Remove empty run cgroups left by a process that ended without cleaning up.

        A run cgroup is named ``run-<pid>-<id>`` after the process that created it; those of
        live processes are left alone, even when empty: a cgroup is empty between its
        creation and the moment the new sandbox process joins it.
        """
        for parent in self.parents.values():
            for d in parent.glob("run-*"):
                if _creator_alive(d.name):
                    continue
                with contextlib.suppress(OSError):  # not empty: a run still going
                    d.rmdir()

    def create(self, name: str, limits: Limits) -> RunCgroup:
        """Create the cgroup of one run with its limits written."""
        dirs = [parent / name for parent in self.parents.values()]
        for d in dirs:
            d.mkdir()
        cgroup = RunCgroup(version=self.version, dirs=tuple(dirs))
        try:
            cgroup.apply(limits)
        except BaseException:
            cgroup.remove()
            raise
        return cgroup


@dataclass(frozen=True, kw_only=True)
class RunCgroup:
    """The cgroup (v2) or cgroups (v1: memory, pids, cpu) of one run."""

    version: int
    dirs: tuple[Path, ...]

    def _dir(self, controller: str) -> Path:
        if self.version == 2:
            return self.dirs[0]
        return self.dirs[_V1_CONTROLLERS.index(controller)]

    @property
    def procs_files(self) -> tuple[bytes, ...]:
        """The ``cgroup.procs`` files a process writes ``0`` to, to join this run."""
        return tuple(os.fsencode(d / "cgroup.procs") for d in self.dirs)

    def apply(self, limits: Limits, *, current: Limits | None = None) -> None:
        """Write the memory (swap counted), pids and CPU limits.

        With ``current`` (the limits the cgroup holds), only those that differ: a run at the
        default limits in a sandbox built ahead writes nothing on cgroup v1's three
        hierarchies but its CPU quota.
        """
        quota = max(1000, int(limits.cpus * _CFS_PERIOD_US))
        memory = current is None or current.memory != limits.memory
        pids = current is None or current.pids != limits.pids
        cpus = current is None or current.cpus != limits.cpus
        if self.version == 2:
            d = self.dirs[0]
            if memory:
                _write(d / "memory.max", str(limits.memory))
            if current is None:
                if (d / "memory.swap.max").exists():
                    _write(d / "memory.swap.max", "0")
                _write(d / "memory.oom.group", "1")
            if pids:
                _write(d / "pids.max", str(limits.pids))
            if cpus:
                _write(d / "cpu.max", f"{quota} {_CFS_PERIOD_US}")
            return
        if memory:
            self._apply_v1_memory(limits.memory, current)
        if pids:
            _write(self._dir("pids") / "pids.max", str(limits.pids))
        cpu = self._dir("cpu")
        if current is None:
            _write(cpu / "cpu.cfs_period_us", str(_CFS_PERIOD_US))
        if cpus:
            _write(cpu / "cpu.cfs_quota_us", str(quota))

    def _apply_v1_memory(self, memory: int, current: Limits | None) -> None:
        mem = self._dir("memory")
        files = [mem / "memory.limit_in_bytes"]
        memsw = mem / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            # memory+swap may never be below memory: raise it first, lower it last.
            held = current.memory if current is not None else int(memsw.read_text())
            files = [memsw, *files] if memory > held else [*files, memsw]
        for path in files:
            _write(path, str(memory))

    def oom_killed(self) -> bool:
        """True if the OOM killer killed a process of this run."""
        if self.version == 2:
            text = (self.dirs[0] / "memory.events").read_text()
        else:
            text = (self._dir("memory") / "memory.oom_control").read_text()
        match = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
        return bool(match and int(match.group(1)) > 0)

    def pids(self) -> list[int]:
        """Processes in the run's cgroup now."""
        text = (self._dir("pids") / "cgroup.procs").read_text()
        return [int(p) for p in text.split()]

    def threads(self) -> list[int]:
        """Threads in the run's cgroup now (those that have not finished exiting)."""
        name = "cgroup.threads" if self.version == 2 else "tasks"
        text = (self._dir("pids") / name).read_text()
        return [int(t) for t in text.split()]

    def kill_all(self, *, deadline: float = 5.0) -> None:
        """SIGKILL every process of the run and wait (bounded) until each is exiting.

        An exiting thread is past its last system call: nothing of the run can write, spawn
        or change a file any more. The kernel then releases its memory and files, which for
        a large process takes milliseconds more; :meth:`remove` waits for that.
        """
        if self.version == 2 and (self.dirs[0] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.dirs[0] / "cgroup.kill").write_text("1")
        end = time.monotonic() + deadline
        pause = 0.0002  # a killed thread starts exiting as soon as it runs: often within 1 ms
        while (pids := self.pids()) and time.monotonic() < end:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if all(_exiting(tid) for tid in self.threads()):
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.005)

    def remove(self) -> None:
        """Kill what is left and delete the cgroup(s)."""
        with contextlib.suppress(OSError):
            self.kill_all()
        end = time.monotonic() + 5.0
        for d in self.dirs:
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > end:
                        raise
                    time.sleep(0.005)
