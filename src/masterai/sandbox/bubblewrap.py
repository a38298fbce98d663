"""The bubblewrap backend: a fresh set of namespaces per run on the host kernel.

Per run: all namespaces unshared (user, pid, net, ipc, uts, cgroup, mount), no further user
namespaces, ``--die-with-parent``, ``--new-session``, an empty environment, an unprivileged
uid, no capabilities, the runtimes bound read-only, size-limited tmpfs for ``/work``, ``/tmp``
and ``/dev/shm``, the seccomp filter of :mod:`masterai.sandbox.seccomp`, a cgroup with the
memory (swap counted), pids and CPU limits, and rlimits. On timeout, or once the program
ends, every process left in the run's cgroup is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from masterai.sandbox import seccomp
from masterai.sandbox.base import (
    KILLED_EXIT_CODE,
    CappedBuffer,
    RawResult,
    RunSpec,
    SandboxBackend,
    drain,
)
from masterai.sandbox.cgroups import CgroupLayout, RunCgroup
from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.languages import CODE_DIR, OPT_DIR, WORK_DIR
from masterai.sandbox.models import Limits
from masterai.sandbox.runtimes import runners_dir, runtime_path
from masterai.settings import SandboxSettings

_BWRAP_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
_DRAIN_GRACE = 2.0  # seconds to finish reading output once every process is gone


def _root_fs_args() -> list[str]:
    """Bind ``/usr`` read-only, and the merged-/usr links (or dirs) next to it."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    # The dynamic linker's cache (speed), alternatives (some /usr/bin links point there),
    # and R's configuration (/usr/lib/R/etc links into /etc/R).
    for name in ("/etc/ld.so.cache", "/etc/alternatives", "/etc/R"):
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    return args


def _check_reachable(path: Path, uid: int) -> None:
    """Check the sandbox user can reach ``path`` (bwrap binds directories as that user).

    Raises:
        BackendUnavailableError: a parent directory is closed to that user.
    """
    path = path.resolve()
    for directory in [*reversed(path.parents), path]:
        st = directory.stat()
        if not (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)):
            raise BackendUnavailableError(
                f"The sandbox user (uid {uid}) cannot reach {str(path)!r}: {str(directory)!r} "
                f"has mode {oct(st.st_mode & 0o777)}. Make it traversable (chmod o+x), or put "
                "the checkout, MASTERAI_SANDBOX__RUNTIME_DIR and MASTERAI_SANDBOX__RUN_DIR "
                "in directories others can traverse"
            )


def _preexec(cgroup: RunCgroup, limits: Limits, uid: int) -> Callable[[], None]:
    """What the child does between fork and exec: join the cgroup, set rlimits, drop root.

    Only plain syscalls: it runs in a forked copy of a threaded process.
    """
    procs = cgroup.procs_files
    cpu_seconds = math.ceil(limits.timeout) + 5
    is_root = os.geteuid() == 0

    def child() -> None:
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.storage, limits.storage))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        if is_root:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)

    return child


class BubblewrapBackend(SandboxBackend):
    """Runs programs under ``bwrap`` with cgroups, seccomp and rlimits."""

    name = "bubblewrap"

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._layout: CgroupLayout | None = None
        self._filter: bytes | None = None
        self._bwrap: str | None = None
        self._reachable: set[str] = set()

    def check(self) -> None:
        """Verify bwrap, cgroups and the seccomp filter (see :meth:`SandboxBackend.check`)."""
        if self._layout is not None:
            return
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise BackendUnavailableError(
                "bubblewrap is not installed (no 'bwrap' on PATH): install it "
                "(apt-get install bubblewrap) or use the docker backend"
            )
        if os.geteuid() != 0:
            raise BackendUnavailableError(
                "The bubblewrap backend runs as root on the host, to mount each run's "
                "size-limited working directory, create its cgroup and then drop to the "
                f"sandbox user (uid {self.settings.sandbox_uid}); run as root or use docker"
            )
        self._filter = seccomp.build_filter()
        self._layout = CgroupLayout.detect(self.settings.cgroup_parent)
        _check_reachable(runners_dir(), self.settings.sandbox_uid)
        _check_reachable(self.settings.run_dir.parent, self.settings.sandbox_uid)
        self._bwrap = bwrap

    def _argv(self, spec: RunSpec, seccomp_fd: int) -> list[str]:
        assert self._bwrap is not None
        limits, ws = spec.limits, spec.workspace
        uid = str(self.settings.sandbox_uid)
        argv = [self._bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
        argv += ["--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
        argv += ["--uid", uid, "--gid", uid, "--hostname", "sandbox"]
        argv += _root_fs_args()
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--size", str(limits.storage), "--perms", "1777", "--tmpfs", "/tmp"]
        argv += ["--size", str(limits.storage), "--perms", "1777", "--tmpfs", "/dev/shm"]
        for name in spec.language.runtimes:
            path = runtime_path(self.settings, name)
            if name not in self._reachable:
                _check_reachable(path, self.settings.sandbox_uid)
                self._reachable.add(name)
            argv += ["--ro-bind", str(path), f"{OPT_DIR}/{name}"]
        argv += ["--ro-bind", str(runners_dir()), f"{OPT_DIR}/runners"]
        argv += ["--ro-bind", str(ws.code_dir), CODE_DIR]
        argv += ["--bind", str(ws.work_dir), WORK_DIR, "--chdir", WORK_DIR]
        argv += ["--remount-ro", "/"]  # the root tmpfs bwrap builds: nothing new at the top
        for key, value in spec.language.environment.items():
            argv += ["--setenv", key, value]
        argv += ["--seccomp", str(seccomp_fd), "--"]
        return argv + list(spec.language.command)

    async def run(self, spec: RunSpec) -> RawResult:
        """Run one program under bwrap (see :meth:`SandboxBackend.run`)."""
        self.check()
        assert self._layout is not None and self._filter is not None
        cgroup = self._layout.create(f"run-{spec.run_id}", spec.limits)
        try:
            return await self._run_in(cgroup, spec)
        finally:
            cgroup.remove()

    async def _run_in(self, cgroup: RunCgroup, spec: RunSpec) -> RawResult:
        assert self._filter is not None
        limits = spec.limits
        seccomp_fd = os.memfd_create("masterai-seccomp", 0)
        try:
            os.write(seccomp_fd, self._filter)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            with open(spec.workspace.code_dir / "stdin", "rb") as stdin:
                started = time.monotonic()
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *self._argv(spec, seccomp_fd),
                        stdin=stdin,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                        pass_fds=(seccomp_fd,),
                        # bwrap's own init (pid 1 inside) keeps the environment it was
                        # started with, readable at /proc/1/environ: give it nothing.
                        env=_BWRAP_ENV,
                        preexec_fn=_preexec(cgroup, limits, self.settings.sandbox_uid),
                    )
                except OSError as e:
                    raise ExecutionFailedError(f"Cannot start bwrap: {e}") from e
        finally:
            os.close(seccomp_fd)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = CappedBuffer(limits.output_limit), CappedBuffer(limits.output_limit)
        readers = asyncio.gather(drain(proc.stdout, out), drain(proc.stderr, err))
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), limits.timeout)
        except TimeoutError:
            timed_out = True
        finally:
            # Whatever happened, nothing of the run survives it.
            cgroup.kill_all()
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            returncode = await proc.wait()
        elapsed = time.monotonic() - started
        try:
            await asyncio.wait_for(readers, _DRAIN_GRACE)
        except TimeoutError:
            out.truncated = True
        oom = cgroup.oom_killed()
        exit_code = returncode if returncode >= 0 else 128 - returncode
        if timed_out or (oom and exit_code == 0):
            exit_code = KILLED_EXIT_CODE
        return RawResult(
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            exit_code=exit_code,
            execution_time=elapsed,
            timed_out=timed_out,
            memory_exceeded=oom,
            output_truncated=out.truncated or err.truncated,
        )
