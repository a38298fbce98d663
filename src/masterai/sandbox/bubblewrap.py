"""The bubblewrap backend: a fresh set of namespaces per run on the host kernel.

Per run: all namespaces unshared (user, pid, net, ipc, uts, cgroup, mount), no further user
namespaces, ``--die-with-parent``, ``--new-session``, an empty environment, an unprivileged
uid, no capabilities, the runtimes bound read-only, size-limited tmpfs for ``/work``, ``/tmp``
and ``/dev/shm``, the seccomp filter of :mod:`masterai.sandbox.seccomp`, a cgroup with the
memory (swap counted), pids and CPU limits, and rlimits. On timeout, or once the program
ends, every process left in the run's cgroup is killed. Each run starts from a spare bwrap
prepared ahead (:mod:`masterai.sandbox.warm`), so joining the cgroup is off the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import shutil
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

from masterai.sandbox import seccomp
from masterai.sandbox.base import (
    CappedBuffer,
    RawResult,
    RunSpec,
    SandboxBackend,
    drain,
)
from masterai.sandbox.cgroups import CgroupLayout
from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.languages import CODE_DIR, OPT_DIR, WORK_DIR
from masterai.sandbox.models import Limits
from masterai.sandbox.runtimes import runners_dir, runtime_path
from masterai.sandbox.warm import LAUNCHER_NAME, WarmProcess, wait_exit
from masterai.settings import SandboxSettings

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
    while not path.exists():  # to be created (as root, 0711): check what exists
        path = path.parent
    for directory in [*reversed(path.parents), path]:
        st = directory.stat()
        if not (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)):
            raise BackendUnavailableError(
                f"The sandbox user (uid {uid}) cannot reach {str(path)!r}: {str(directory)!r} "
                f"has mode {oct(st.st_mode & 0o777)}. Make it traversable (chmod o+x; "
                "scripts/setup-sandbox does it when run as root), or put "
                "the checkout, MASTERAI_SANDBOX__RUNTIME_DIR and MASTERAI_SANDBOX__RUN_DIR "
                "in directories others can traverse"
            )


class BubblewrapBackend(SandboxBackend):
    """Runs programs under ``bwrap`` with cgroups, seccomp and rlimits."""

    name = "bubblewrap"

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._layout: CgroupLayout | None = None
        self._filter: bytes | None = None
        self._bwrap: str | None = None
        self._reachable: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="masterai-bwrap")
        self._spares: list[Future[WarmProcess]] = []
        self._placeholder = Limits(
            timeout=settings.default_timeout,
            memory=settings.default_memory,
            cpus=settings.default_cpus,
            pids=settings.default_pids,
            storage=settings.default_storage,
            output_limit=settings.default_output_limit,
            max_output_files=settings.max_output_files,
            max_output_file_size=settings.max_output_file_size,
        )
        self._ceilings = Limits(
            timeout=settings.max_timeout,
            memory=settings.max_memory,
            cpus=settings.max_cpus,
            pids=settings.max_pids,
            storage=settings.max_storage,
            output_limit=settings.max_output_limit,
            max_output_files=settings.max_output_files,
            max_output_file_size=settings.max_output_file_size,
        )

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
        self._layout.remove_stale()
        # The spare process and its cgroup end with this backend, or with the interpreter.
        weakref.finalize(self, _close_spares, self._spares)
        _check_reachable(runners_dir(), self.settings.sandbox_uid)
        _check_reachable(self.settings.run_dir.parent, self.settings.sandbox_uid)
        self._bwrap = bwrap

    def _options(self, spec: RunSpec, seccomp_fd: int) -> list[str]:
        """The bwrap options of one run (its command is fixed: see ``warm.COMMAND``)."""
        assert self._bwrap is not None
        limits, ws = spec.limits, spec.workspace
        uid = str(self.settings.sandbox_uid)
        argv = ["--unshare-all", "--unshare-user", "--disable-userns"]
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
        return [*argv, "--seccomp", str(seccomp_fd)]

    def _spawn(self) -> WarmProcess:
        assert self._bwrap is not None and self._layout is not None and self._filter is not None
        return WarmProcess.spawn(
            bwrap=self._bwrap,
            layout=self._layout,
            limits=self._placeholder,
            ceilings=self._ceilings,
            seccomp=self._filter,
            uid=self.settings.sandbox_uid,
        )

    async def _take(self) -> WarmProcess:
        """A ready bwrap (the spare, or a new one), and a new spare started behind it."""
        future = self._spares.pop(0) if self._spares else self._executor.submit(self._spawn)
        if not self._spares:
            self._spares.append(self._executor.submit(self._spawn))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_discard_when_done)
            raise

    def ready_cgroups(self) -> set[Path]:
        """Cgroup directories of the spare processes waiting for a run (for leftover checks)."""
        return {
            d
            for f in self._spares
            if f.exception(timeout=10) is None
            for d in f.result().cgroup.dirs
        }

    def close(self) -> None:
        """Stop the spare processes and remove their cgroups."""
        _close_spares(self._spares)

    async def run(self, spec: RunSpec) -> RawResult:
        """Run one program under bwrap (see :meth:`SandboxBackend.run`)."""
        self.check()
        warm = await self._take()
        try:
            return await self._run_warm(warm, spec)
        finally:
            warm.discard()  # kills whatever is left in the run's cgroup, then removes it

    async def _run_warm(self, warm: WarmProcess, spec: RunSpec) -> RawResult:
        limits, popen = spec.limits, warm.popen
        assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
        launcher = " ".join(shlex.quote(a) for a in spec.language.command)
        (spec.workspace.code_dir / LAUNCHER_NAME).write_text(f"exec {launcher}\n")
        stdin = (spec.workspace.code_dir / "stdin").read_bytes()
        loop = asyncio.get_running_loop()
        out, err = CappedBuffer(limits.output_limit), CappedBuffer(limits.output_limit)
        readers, transports = [], []
        try:
            for pipe, buffer in ((popen.stdout, out), (popen.stderr, err)):
                stream = asyncio.StreamReader()
                protocol = functools.partial(asyncio.StreamReaderProtocol, stream)
                transport, _ = await loop.connect_read_pipe(protocol, pipe)
                transports.append(transport)
                readers.append(drain(stream, buffer))
            gathered = asyncio.gather(*readers)
            feeder = asyncio.ensure_future(asyncio.to_thread(_feed, popen.stdin, stdin))
            try:
                returncode, timed_out, elapsed = await self._execute(warm, spec)
                try:
                    await asyncio.wait_for(asyncio.shield(gathered), _DRAIN_GRACE)
                except TimeoutError:
                    out.truncated = True
            finally:
                await feeder
                gathered.cancel()
        finally:
            for transport in transports:
                transport.close()
        return RawResult.observed(
            out=out,
            err=err,
            exit_code=returncode if returncode >= 0 else 128 - returncode,
            execution_time=elapsed,
            timed_out=timed_out,
            oom=warm.cgroup.oom_killed(),
        )

    async def _execute(self, warm: WarmProcess, spec: RunSpec) -> tuple[int, bool, float]:
        """Start the run, wait for its end or its timeout, kill what is left.

        Returns bwrap's exit status, whether the run timed out, and the wall-clock seconds.
        """
        started = time.monotonic()
        timed_out = False
        try:
            try:
                warm.start(self._options(spec, warm.seccomp_fd), spec.limits)
            except OSError as e:
                raise ExecutionFailedError(f"bwrap did not take its arguments: {e}") from e
            await asyncio.wait_for(wait_exit(warm.popen), spec.limits.timeout)
        except TimeoutError:
            timed_out = True
        finally:
            # Whatever happened, nothing of the run survives it.
            warm.cgroup.kill_all()
            with contextlib.suppress(ProcessLookupError):
                warm.popen.kill()
            returncode = await wait_exit(warm.popen)
        return returncode, timed_out, time.monotonic() - started


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write the program's stdin and close it (in a thread: the program may not read)."""
    with contextlib.suppress(OSError):
        if data:
            pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _close_spares(spares: list[Future[WarmProcess]]) -> None:
    while spares:
        spares.pop().add_done_callback(_discard_when_done)


def _discard_when_done(future: Future[WarmProcess]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().discard()
