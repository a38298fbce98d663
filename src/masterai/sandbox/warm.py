"""bwrap processes started ahead of their run, to take cgroup migration off the clock.

Moving a process into a cgroup makes the kernel wait for an RCU grace period, once per
hierarchy (three on cgroup v1): milliseconds, more on a loaded host. So the bubblewrap
backend keeps one ``bwrap`` ready: already in a fresh cgroup of its own, already the sandbox
user, and blocked reading its options from a pipe (``bwrap --args FD``). A run writes its
limits into that cgroup, then its options into the pipe; only then does bwrap build the
sandbox and run the program. Nothing of the run exists before.

A ready process that is never used exits by itself when its pipe closes (the host process
ended): bwrap reads an empty command line and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from masterai.sandbox.cgroups import CgroupLayout, RunCgroup
from masterai.sandbox.errors import ExecutionFailedError
from masterai.sandbox.languages import CODE_DIR
from masterai.sandbox.models import Limits

LAUNCHER_NAME = ".run.sh"
"""Script in the run's code directory that execs the program: bwrap takes its options from
``--args`` but its command only from the real command line, fixed before the run is known."""
COMMAND = ("--", "/bin/sh", f"{CODE_DIR}/{LAUNCHER_NAME}")

BWRAP_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
"""bwrap's own environment: its init (pid 1 inside) keeps it, readable at /proc/1/environ."""


def _preexec(
    procs: tuple[bytes, ...], uid: int, is_root: bool, limits: Limits
) -> Callable[[], None]:
    """What the child does between fork and exec: join the cgroup, set rlimits, drop root.

    Only plain syscalls: it runs in a forked copy of a threaded process. The rlimits are
    backstops set from the ceilings (the run's own limits are not known yet): the wall-clock
    timeout and the tmpfs sizes are what hold a run to its limits.
    """
    cpu_seconds = math.ceil(limits.timeout) + 5

    def child() -> None:
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.storage, limits.storage))
        if is_root:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)

    return child


@dataclass(kw_only=True)
class WarmProcess:
    """A ``bwrap --args FD`` waiting for its arguments, alone in its own cgroup."""

    popen: subprocess.Popen[bytes]
    cgroup: RunCgroup
    args_fd: int
    """Write end of the pipe bwrap reads its arguments from."""
    seccomp_fd: int
    """Descriptor number, in bwrap, of the seccomp program (for ``--seccomp``)."""

    @classmethod
    def spawn(
        cls,
        *,
        bwrap: str,
        layout: CgroupLayout,
        limits: Limits,
        ceilings: Limits,
        seccomp: bytes,
        uid: int,
    ) -> WarmProcess:
        """Start one (blocking: call it in a worker thread).

        Raises:
            ExecutionFailedError: bwrap could not be started.
        """
        cgroup = layout.create(f"run-{uuid.uuid4().hex[:16]}", limits)
        read_end, write_end = os.pipe()
        memfd = os.memfd_create("masterai-seccomp", 0)
        try:
            os.write(memfd, seccomp)
            os.lseek(memfd, 0, os.SEEK_SET)
            popen = subprocess.Popen(
                [bwrap, "--args", str(read_end), *COMMAND],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(read_end, memfd),
                env=BWRAP_ENV,
                preexec_fn=_preexec(cgroup.procs_files, uid, os.geteuid() == 0, ceilings),
            )
        except OSError as e:
            os.close(write_end)
            cgroup.remove()
            raise ExecutionFailedError(f"Cannot start bwrap: {e}") from e
        finally:
            os.close(read_end)
            os.close(memfd)
        return cls(popen=popen, cgroup=cgroup, args_fd=write_end, seccomp_fd=memfd)

    def start(self, argv: list[str], limits: Limits) -> None:
        """Give the cgroup its limits and bwrap its arguments: the run starts now."""
        self.cgroup.apply(limits)
        data = b"".join(os.fsencode(a) + b"\0" for a in argv)
        try:
            view = memoryview(data)
            while view:  # bwrap reads until EOF, so a long command line cannot block us
                view = view[os.write(self.args_fd, view) :]
        finally:
            os.close(self.args_fd)
            self.args_fd = -1

    def discard(self) -> None:
        """Kill the process (never started) and remove its cgroup."""
        if self.args_fd >= 0:
            os.close(self.args_fd)
            self.args_fd = -1
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        self.cgroup.remove()


async def wait_exit(popen: subprocess.Popen[bytes]) -> int:
    """Wait for ``popen`` to exit without a thread (a pidfd in the event loop)."""
    if popen.poll() is not None:
        return popen.returncode
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(popen.pid)
    except ProcessLookupError:  # exited and reaped between poll() and here
        return popen.wait()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return popen.wait()
