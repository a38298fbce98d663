"""bwrap processes started ahead of their run, to take the sandbox's set-up off the clock.

Moving a process into a cgroup makes the kernel wait for an RCU grace period, once per
hierarchy (three on cgroup v1), and bwrap's namespaces (the network one above all) and mounts
take milliseconds more. So the bubblewrap backend keeps sandboxes *built ahead*
(:meth:`WarmProcess.spawn` with ``options``), each a ``bwrap`` in a fresh cgroup of its
own, already the sandbox user, whose namespaces, mounts, seccomp filter and empty workspace
(code and work directories) are all in place with the default limits, and whose command is
a tiny launcher (:data:`PREBUILT_COMMAND`) blocked reading one line from its stdin. A run
writes its program and input files into that workspace, its limits into the cgroup, then
the line (:meth:`WarmProcess.go`): the launcher execs the program. Each such sandbox serves
exactly one run and is discarded with it.

A run the built sandbox cannot serve (another storage size) takes the older kind of spare:
``bwrap --args FD``, in its cgroup and blocked reading its options, which the run writes
(:meth:`WarmProcess.start`); only then does bwrap build the sandbox.

Both kinds take their options from a file descriptor (``--args``), never from the command
line: bwrap's own process is pid 1 in the sandbox, and a program reads its command line at
``/proc/1/cmdline``. Only ``bwrap --args N`` and the launcher show there.

A Python run can take a third kind, when one is ready: a sandbox built ahead whose command
is an interpreter that has already imported the common data libraries and forked the process
that will run the program (``runners/warm_python.py``, :func:`python_command`). It says it
is ready with a line on its stdout (:meth:`WarmProcess.take_ready`), its go line carries the
program's command line, and it writes the run's exit status on a pipe of its own
(:attr:`WarmProcess.status_fd`) as soon as the program has ended, so the run is answered
without waiting for the interpreter's and bwrap's exits (:func:`wait_end`). It too serves
exactly one run: a fresh sandbox and a fresh interpreter per run.

A JavaScript or TypeScript run can take the fourth kind: a sandbox built ahead whose command
is the program's own Node.js command line with one module loaded first, which says it is
ready the same way and then waits for the go (``runners/warm_node.js``, :func:`node_command`):
Node.js has started (for TypeScript, with the compiler its runner uses loaded), and only the
import guard and the program are left to load. The run ends with bwrap, as the launcher's
does. One run each, too.

A ready process that is never used exits by itself when its pipes close (the host process
ended), besides ``--die-with-parent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import select
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from masterai.sandbox.cgroups import CgroupLayout, RunCgroup
from masterai.sandbox.errors import ExecutionFailedError
from masterai.sandbox.languages import CODE_DIR, LANGUAGES, RUNNERS, LanguageSpec
from masterai.sandbox.models import Limits
from masterai.sandbox.workspace import RunWorkspace

LAUNCHER_NAME = ".run.sh"
"""Script in the run's code directory that execs the program: bwrap takes its options from
``--args`` but its command only from the real command line, fixed before the run is known."""
COMMAND = ("--", "/bin/sh", f"{CODE_DIR}/{LAUNCHER_NAME}")
PREBUILT_COMMAND = ("--", "/bin/sh", "-c", f"read -r _ || exit 125; . {CODE_DIR}/{LAUNCHER_NAME}")
"""The launcher of a sandbox built ahead: it waits for the run's go (one line on stdin; the
shell reads it byte by byte, so the program's stdin follows untouched), then runs the
launcher script the run wrote, which sets the language's environment and execs the program."""

PYTHON = ("/usr/bin/python3", "-B")
"""How the sandbox starts Python: the warm interpreter serves programs started this way."""
PRELOADED = ("numpy", "pandas", "matplotlib.pyplot")
"""What a warm interpreter imports before its run (matplotlib with ``MPLBACKEND=Agg``)."""
PRELOADED_PACKAGES = frozenset(name.partition(".")[0] for name in PRELOADED)
READY = b"masterai-warm-ready\n"
"""What a warm interpreter writes to its stdout once it is ready (Python: once it has
imported :data:`PRELOADED`)."""


def python_command(status_fd: int, deadline: int = 0) -> tuple[str, ...]:
    """The command of a warm interpreter that reports its run's exit status on ``status_fd``.

    With a ``deadline`` (seconds) it ends the run that long after the go (see the runner).
    """
    runner = f"{RUNNERS}/warm_python.py"
    return (*PYTHON, runner, str(status_fd), str(deadline), *PRELOADED)


NODE_LANGUAGES = ("javascript", "typescript")
"""Languages whose programs a warm Node.js runs (one started with that language's command)."""


def node_command(language: str) -> tuple[str, ...]:
    """The command of a warm Node.js: ``language``'s, with the module waiting for the go first."""
    node, *options = LANGUAGES[language].command
    return ("--", node, "--require", f"{RUNNERS}/warm_node.js", *options)


def warm_language(language: LanguageSpec) -> str | None:
    """Which warm interpreter can run ``language``'s programs, if one can.

    A warm Python interpreter serves programs started ``python3 -B`` with Python's runtime and
    environment: Python, and SQL through its runner. A warm Node.js was started with its
    language's command line (JavaScript's or TypeScript's), and serves that language only.
    """
    python = LANGUAGES["python"]
    setup = (language.runtimes, language.environment)
    if language.command[: len(PYTHON)] == PYTHON and setup == (python.runtimes, python.environment):
        return "python"
    for name in NODE_LANGUAGES:
        node = LANGUAGES[name]
        if (language.command, *setup) == (node.command, node.runtimes, node.environment):
            return name
    return None


def preloaded_allowed(policy: str | None) -> bool:
    """Whether a run under the import ``policy`` may take an interpreter with PRELOADED.

    Only if the program could import every one of them itself: a loaded module is reachable
    without an import statement, through ``sys.modules``.
    """
    return policy is None or set(json.loads(policy)["direct"]) >= PRELOADED_PACKAGES


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
    limits: Limits
    """The limits its cgroup holds now."""
    args_fd: int
    """Write end of the pipe bwrap reads its arguments from."""
    seccomp_fd: int
    """Descriptor number, in bwrap, of the seccomp program (for ``--seccomp``)."""
    workspace: RunWorkspace | None = None
    """The workspace a sandbox built ahead was built around (None for ``--args`` spares)."""
    runtimes: tuple[str, ...] = ()
    """The curated runtimes a sandbox built ahead binds."""
    status_fd: int = -1
    """Read end of the pipe a warm Python interpreter writes its run's exit status to (-1:
    not one; the shell launcher and Node.js, whose runs end with bwrap)."""
    interpreter: str = ""
    """The language whose interpreter waits started ahead (``python``, ``javascript``,
    ``typescript``); empty for the shell launcher and for ``--args`` spares."""
    stopped: bool = False
    discarded: bool = False

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
        options: Callable[[int], list[str]] | None = None,
        workspace: RunWorkspace | None = None,
        interpreter: str = "",
    ) -> WarmProcess:
        """Start one (blocking: call it in a worker thread).

        Without ``options``, bwrap waits for them on a pipe (:meth:`start`). With them
        (given the seccomp descriptor's number, they return bwrap's options), bwrap reads
        them from a memory file, builds the sandbox at once, around ``workspace``, runs
        the launcher in it (or the warm ``interpreter``: :func:`python_command`,
        :func:`node_command`) and waits for :meth:`go`.

        Raises:
            ExecutionFailedError: bwrap could not be started.
        """
        memfd = os.memfd_create("masterai-seccomp", 0)
        read_end = write_end = status_read = status_write = -1
        try:
            if options is None:  # bwrap reads its options from a pipe, later
                read_end, write_end = os.pipe()
                argv = [bwrap, "--args", str(read_end), *COMMAND]
            else:  # from a memory file: no size limit, nothing to block on
                read_end = os.memfd_create("masterai-args", 0)
                _write_all(read_end, _args_bytes(options(memfd)))
                os.lseek(read_end, 0, os.SEEK_SET)
                command: tuple[str, ...] = PREBUILT_COMMAND
                if interpreter == "python":
                    status_read, status_write = os.pipe()
                    os.set_blocking(status_read, False)
                    command = ("--", *python_command(status_write))
                elif interpreter in NODE_LANGUAGES:
                    command = node_command(interpreter)
                argv = [bwrap, "--args", str(read_end), *command]
            os.write(memfd, seccomp)
            os.lseek(memfd, 0, os.SEEK_SET)
            # The creating process's pid in the name: only its own death makes the cgroup
            # stale (another backend's sweep must not take one that is about to be joined).
            cgroup = layout.create(f"run-{os.getpid()}-{uuid.uuid4().hex[:16]}", limits)
        except BaseException:
            for fd in (memfd, read_end, write_end, status_read, status_write):
                if fd >= 0:
                    os.close(fd)
            raise
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(fd for fd in (read_end, memfd, status_write) if fd >= 0),
                env=BWRAP_ENV,
                preexec_fn=_preexec(cgroup.procs_files, uid, os.geteuid() == 0, ceilings),
            )
        except OSError as e:
            for fd in (write_end, status_read):
                if fd >= 0:
                    os.close(fd)
            cgroup.remove()
            raise ExecutionFailedError(f"Cannot start bwrap: {e}") from e
        finally:
            for fd in (read_end, status_write):
                if fd >= 0:
                    os.close(fd)
            os.close(memfd)
        return cls(
            popen=popen,
            cgroup=cgroup,
            limits=limits,
            args_fd=write_end,
            seccomp_fd=memfd,
            workspace=workspace,
            status_fd=status_read,
            interpreter=interpreter,
        )

    @property
    def python(self) -> bool:
        """A warm Python interpreter rather than Node.js, the shell launcher or a spare."""
        return self.interpreter == "python"

    def is_ready(self) -> bool:
        """Whether a warm interpreter has said it is ready (or ended), without consuming it."""
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        return not self.stopped and bool(select.select([fd], [], [], 0)[0])

    def take_ready(self) -> bool:
        """Whether a warm interpreter has finished its imports (consumes its ready line).

        Never blocks. False while it is still importing; an interpreter that failed to
        preload, or died, is stopped (False too).
        """
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        if self.stopped or not select.select([fd], [], [], 0)[0]:
            return False
        if os.read(fd, len(READY)) == READY:  # written at once, far below PIPE_BUF
            return True
        self.stop()
        return False

    def go(self, limits: Limits, line: bytes = b"") -> None:
        """Give the cgroup its limits and the launcher its go: the program starts now.

        ``line`` (no newline) is what a warm interpreter reads as its program's command line.
        """
        assert self.popen.stdin is not None and self.workspace is not None
        self.cgroup.apply(limits, current=self.limits)
        self.limits = limits
        # A short line into an empty pipe (below PIPE_BUF): never blocks.
        os.write(self.popen.stdin.fileno(), line + b"\n")

    def start(self, argv: list[str], limits: Limits) -> None:
        """Give the cgroup its limits and bwrap its arguments: the run starts now."""
        self.cgroup.apply(limits, current=self.limits)
        self.limits = limits
        try:  # bwrap reads until EOF, so a long command line cannot block us
            _write_all(self.args_fd, _args_bytes(argv))
        finally:
            os.close(self.args_fd)
            self.args_fd = -1

    def stop(self) -> None:
        """Kill the process and everything in its cgroup, and close its pipes (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        if self.args_fd >= 0:
            os.close(self.args_fd)
            self.args_fd = -1
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self.popen.wait()
        self.cgroup.kill_all()
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if self.status_fd >= 0:
            os.close(self.status_fd)

    def discard(self) -> None:
        """:meth:`stop`, then remove the cgroup (idempotent).

        Removing an emptied cgroup can wait milliseconds on the kernel, so a run ends with
        :meth:`stop` and leaves this to its clean-up. The workspace of a sandbox built ahead
        is left to its owner (the run that took it).
        """
        if self.discarded:
            return
        self.discarded = True
        try:
            self.stop()
        finally:
            self.cgroup.remove()


def _args_bytes(argv: list[str]) -> bytes:
    """Options as ``bwrap --args`` reads them: each followed by a NUL byte."""
    return b"".join(os.fsencode(a) + b"\0" for a in argv)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def wait_end(warm: WarmProcess) -> tuple[int, bool]:
    """Wait for the end of ``warm``'s run: its exit status, and whether bwrap has exited.

    A warm interpreter reports the status on its status pipe as soon as the program has
    ended; otherwise (the shell launcher, or an interpreter killed before it could report)
    the run ends with bwrap, whose exit status is the run's. A line that is not a status
    (the program can write to that pipe too) is ignored.
    """
    popen = warm.popen
    if popen.poll() is not None:
        return popen.returncode, True
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(popen.pid)
    except ProcessLookupError:  # exited and reaped between poll() and here
        return popen.wait(), True
    ended: asyncio.Future[int | None] = loop.create_future()

    def exited() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(pidfd, exited)
    if warm.status_fd >= 0:
        loop.add_reader(warm.status_fd, _status_reader(loop, warm.status_fd, ended))
    try:
        status = await ended
    finally:
        loop.remove_reader(pidfd)
        if warm.status_fd >= 0:
            loop.remove_reader(warm.status_fd)
        os.close(pidfd)
    if status is not None:
        return status, False
    return popen.wait(), True


def _status_reader(
    loop: asyncio.AbstractEventLoop, fd: int, ended: asyncio.Future[int | None]
) -> Callable[[], None]:
    """A reader of the status pipe ``fd`` that sets ``ended`` to the status it reports."""
    received = bytearray()

    def reported() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        if not data:  # no writer left: bwrap's exit follows
            loop.remove_reader(fd)
            return
        received.extend(data)
        line, newline, _ = received.partition(b"\n")
        if newline and not ended.done():
            status = _status(bytes(line))
            if status is not None:
                ended.set_result(status)
            else:
                loop.remove_reader(fd)

    return reported


def _status(line: bytes) -> int | None:
    """An exit status (0-255) from a status line, or None."""
    if line.isdigit() and len(line) <= 3 and int(line) <= 255:
        return int(line)
    return None


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
