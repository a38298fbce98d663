"""The bubblewrap backend: a fresh set of namespaces per run on the host kernel.

Per run: all namespaces unshared (user, pid, net, ipc, uts, cgroup, mount), no further user
namespaces, ``--die-with-parent``, ``--new-session``, an empty environment, an unprivileged
uid, no capabilities, the runtimes bound read-only (through overlays, so the mount table names
no host path), size-limited tmpfs for ``/work``, ``/tmp`` and ``/dev/shm``, the seccomp filter
of :mod:`masterai.sandbox.seccomp`, a cgroup with the memory (swap counted), pids and CPU
limits, and rlimits. On timeout, or once the program ends, every process left in the run's
cgroup is killed. Each run at the default storage size takes a sandbox built ahead
(:mod:`masterai.sandbox.warm`), used by that run only, so joining the cgroup and building the
namespaces and mounts are off the clock; a Python run takes one whose interpreter has already
imported numpy, pandas and matplotlib, when one is ready (``settings.warm_python``), and a
JavaScript or TypeScript run one whose Node.js is started (``settings.warm_node``). bwrap
reads its options from a file descriptor (``--args``), so its command line, which the
program can read at ``/proc/1/cmdline``, names no host path either.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import shlex
import shutil
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO

from masterai.sandbox import seccomp
from masterai.sandbox.base import (
    CappedBuffer,
    RawResult,
    RunSpec,
    SandboxBackend,
)
from masterai.sandbox.cgroups import CgroupLayout
from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.languages import (
    BASE_ENV,
    CODE_DIR,
    LANGUAGES,
    OPT_DIR,
    WORK_DIR,
    LanguageSpec,
)
from masterai.sandbox.models import Limits
from masterai.sandbox.runtimes import RUNTIME_NAMES, runners_dir, runtime_path
from masterai.sandbox.warm import (
    LAUNCHER_NAME,
    NODE_LANGUAGES,
    PYTHON,
    WarmProcess,
    preloaded_allowed,
    wait_end,
    wait_exit,
    warm_language,
)
from masterai.sandbox.workspace import RunWorkspace
from masterai.settings import SandboxSettings

BUILT_AHEAD = 2
"""Sandboxes built ahead. Building one takes about as long as a short run, so with two a run
back to back with the previous one still finds its sandbox complete."""
WARM_LANGUAGES = ("python", *NODE_LANGUAGES)
"""Languages with warm interpreters (see :func:`warm_language`)."""
# Bytes of stdin written without a thread: an empty pipe takes at least one page (PIPE_BUF)
# without blocking, the go byte of a built sandbox included.
_SMALL_STDIN = 2048


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
                "MASTERAI_SANDBOX__RUN_DIR in a directory others can traverse"
            )


class BubblewrapBackend(SandboxBackend):
    """Runs programs under ``bwrap`` with cgroups, seccomp and rlimits."""

    name = "bubblewrap"

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._layout: CgroupLayout | None = None
        self._filter: bytes | None = None
        self._bwrap: str | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="masterai-bwrap")
        self._spares: list[Future[WarmProcess]] = []
        """Sandboxes built ahead (default limits), oldest first, for the next runs."""
        self._plain: list[Future[WarmProcess]] = []
        """``bwrap --args`` spares, for runs a built sandbox cannot serve (once one came)."""
        self._warm: dict[str, list[Future[WarmProcess]]] = {name: [] for name in WARM_LANGUAGES}
        """Warm interpreters by language (``settings.warm_python``, ``warm_node``), oldest
        first."""
        self._warm_broken: set[str] = set()
        """Languages whose warm interpreter failed to start (or to import): they start cold."""
        self.warm_runs = 0
        """Runs served by a warm interpreter (an observable for tests and benchmarks)."""
        self._claimed: dict[Path, WarmProcess] = {}
        """Built sandboxes handed out by :meth:`prepare`, by workspace root, until :meth:`run`."""
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
        weakref.finalize(self, _close_spares, self._plain)
        for pool in self._warm.values():
            weakref.finalize(self, _close_spares, pool)
        # bwrap binds the run's directories as the sandbox user; the runtimes and runners
        # are mounted by this process (see RunWorkspace.view), so their parents may be closed.
        _check_reachable(self.settings.run_dir.parent, self.settings.sandbox_uid)
        self._bwrap = bwrap

    def _options(self, spec: RunSpec, seccomp_fd: int) -> list[str]:
        """The bwrap options of one run (its command is fixed: see ``warm.COMMAND``)."""
        return self._sandbox_options(
            storage=spec.limits.storage,
            views=self._mount_views(spec.workspace, spec.language.runtimes),
            workspace=spec.workspace,
            environment=spec.language.environment,
            seccomp_fd=seccomp_fd,
        )

    def _mount_views(self, workspace: RunWorkspace, runtimes: tuple[str, ...]) -> dict[str, Path]:
        """Mount read-only views of ``runtimes`` and the runners in ``workspace``.

        Returns:
            The host path of each view, by its directory in the sandbox.

        Raises:
            BackendUnavailableError: a runtime is not installed.
        """
        sources = {name: runtime_path(self.settings, name) for name in runtimes}
        sources["runners"] = runners_dir()
        return {f"{OPT_DIR}/{name}": workspace.view(name, path) for name, path in sources.items()}

    def _sandbox_options(
        self,
        *,
        storage: int,
        views: Mapping[str, Path],
        workspace: RunWorkspace,
        environment: Mapping[str, str],
        seccomp_fd: int,
    ) -> list[str]:
        uid = str(self.settings.sandbox_uid)
        argv = ["--unshare-all", "--unshare-user", "--disable-userns"]
        argv += ["--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
        argv += ["--uid", uid, "--gid", uid, "--hostname", "sandbox"]
        argv += _root_fs_args()
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--size", str(storage), "--perms", "1777", "--tmpfs", "/tmp"]
        argv += ["--size", str(storage), "--perms", "1777", "--tmpfs", "/dev/shm"]
        for target, source in views.items():
            argv += ["--ro-bind", str(source), target]
        argv += ["--ro-bind", str(workspace.code_dir), CODE_DIR]
        argv += ["--bind", str(workspace.work_dir), WORK_DIR, "--chdir", WORK_DIR]
        argv += ["--remount-ro", "/"]  # the root tmpfs bwrap builds: nothing new at the top
        for key, value in environment.items():
            argv += ["--setenv", key, value]
        return [*argv, "--seccomp", str(seccomp_fd)]

    def _installed_runtimes(self) -> tuple[str, ...]:
        """The curated runtimes a sandbox built ahead binds: those installed."""
        found = []
        for name in RUNTIME_NAMES:
            try:
                runtime_path(self.settings, name)
            except BackendUnavailableError:
                continue
            found.append(name)
        return tuple(found)

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

    def _spawn_built(self) -> WarmProcess:
        """A sandbox built ahead, with the default limits, around a workspace of its own."""
        return self._build(self._installed_runtimes(), BASE_ENV)

    def _spawn_interpreter(self, language: str) -> WarmProcess:
        """A sandbox built ahead whose ``language`` interpreter starts at once.

        A Python interpreter imports :data:`PRELOADED` before it says it is ready.
        """
        spec = LANGUAGES[language]
        return self._build(spec.runtimes, spec.environment, interpreter=language)

    def _build(
        self, runtimes: tuple[str, ...], environment: Mapping[str, str], *, interpreter: str = ""
    ) -> WarmProcess:
        assert self._bwrap is not None and self._layout is not None and self._filter is not None
        s = self.settings
        workspace = RunWorkspace.prepare(s.run_dir, storage=s.default_storage, uid=s.sandbox_uid)
        try:
            options = functools.partial(
                self._sandbox_options,
                storage=s.default_storage,
                views=self._mount_views(workspace, runtimes),
                workspace=workspace,
                environment=environment,
            )
            # A warm interpreter imports at up to the CPU ceiling (only this project's code
            # runs before the go); the run's own quota is written with the go.
            cpus = self._ceilings.cpus if interpreter == "python" else self._placeholder.cpus
            warm = WarmProcess.spawn(
                bwrap=self._bwrap,
                layout=self._layout,
                limits=dataclasses.replace(self._placeholder, cpus=cpus),
                ceilings=self._ceilings,
                seccomp=self._filter,
                uid=s.sandbox_uid,
                options=lambda fd: options(seccomp_fd=fd),
                workspace=workspace,
                interpreter=interpreter,
            )
        except BaseException:
            workspace.cleanup()
            raise
        warm.runtimes = runtimes
        return warm

    async def _take(
        self, spares: list[Future[WarmProcess]], spawn: Callable[[], WarmProcess], depth: int
    ) -> WarmProcess:
        """The oldest spare (or a new one), with spares started behind it up to ``depth``."""
        future = spares.pop(0) if spares else self._executor.submit(spawn)
        while len(spares) < depth:
            spares.append(self._executor.submit(spawn))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_discard_when_done)
            raise

    def _pool_size(self, language: str) -> int:
        """How many warm interpreters of ``language`` to keep (0: its warm path is off)."""
        if language in self._warm_broken:
            return 0
        s = self.settings
        return s.warm_python if language == "python" else s.warm_node

    def _fill_warm(self) -> None:
        """Start warm interpreters until each language has its pool's size."""
        for language, pool in self._warm.items():
            while len(pool) < self._pool_size(language):
                pool.append(self._executor.submit(self._spawn_interpreter, language))

    def start_warm(self) -> None:
        """Start the warm interpreters now rather than at the first run (idempotent)."""
        self.check()
        self._fill_warm()

    def warm_ready(self, language: str = "python") -> int:
        """Warm interpreters of ``language`` ready and waiting for a run (none is taken)."""
        pool = self._warm[language]
        done = [f.result() for f in pool if f.done() and f.exception() is None]
        return sum(1 for warm in done if warm.is_ready())

    def _warm_serves(self, run_dir: Path, limits: Limits, uid: int, language: LanguageSpec | None,
                     policy: str | None) -> str | None:  # fmt: skip
        """The warm interpreter that may serve this run exactly as a cold start would, if any.

        A sandbox built ahead has the default storage size, run directory and sandbox user.
        A Python interpreter's imports count toward the run's memory and its threads toward
        its pids, so Python runs asking for less than the defaults start cold; so do runs
        whose import policy does not let the program import every preloaded package itself
        (a loaded module is reachable without an import statement, through ``sys.modules``).
        Node.js has loaded nothing of the run's: its guard reads the policy at the go.
        """
        s = self.settings
        name = warm_language(language) if language is not None else None
        if name is None or self._pool_size(name) == 0:
            return None
        if (limits.storage, run_dir, uid) != (s.default_storage, s.run_dir, s.sandbox_uid):
            return None
        if name != "python":
            return name
        if limits.memory < s.default_memory or limits.pids < s.default_pids:
            return None
        return name if preloaded_allowed(policy) else None

    async def _take_warm(self, language: str) -> WarmProcess | None:
        """A ready warm interpreter of ``language``, if one is.

        A Python run waits up to ``warm_python_wait`` for one still importing.
        """
        wait_for = self.settings.warm_python_wait if language == "python" else 0.0
        deadline = time.monotonic() + wait_for
        pool = self._warm[language]
        self._fill_warm()  # the first run, or after runs that did not come to run()
        while True:
            for future in list(pool):
                if not future.done():
                    continue
                warm = None if future.exception() else future.result()
                if warm is not None and warm.take_ready():
                    # Its replacement starts once the run is over (see run), not on its cores.
                    pool.remove(future)
                    return warm
                if warm is None or warm.stopped:  # failed to start, or to import
                    pool.remove(future)
                    _discard_when_done(future)
                    self._warm_broken.add(language)
            left = deadline - time.monotonic()
            if left <= 0 or not pool:
                return None
            await asyncio.sleep(min(left, 0.02))

    async def prepare(
        self,
        run_dir: Path,
        limits: Limits,
        uid: int,
        *,
        language: LanguageSpec | None = None,
        policy: str | None = None,
    ) -> RunWorkspace:
        """The workspace of a sandbox built ahead, when it can serve the run.

        A Python, JavaScript or TypeScript run takes a warm interpreter when one is ready and
        may serve it (:meth:`_warm_serves`). Otherwise a sandbox built ahead has the default storage
        size, this backend's run directory and sandbox user; any other request gets a plain
        workspace (and :meth:`run` the older path, building the sandbox once the run is
        known).
        """
        self.check()
        s = self.settings
        warm: WarmProcess | None = None
        interpreter = self._warm_serves(run_dir, limits, uid, language, policy)
        if interpreter is not None:
            warm = await self._take_warm(interpreter)
        else:
            self._fill_warm()
        if warm is None:
            if (limits.storage, run_dir, uid) != (s.default_storage, s.run_dir, s.sandbox_uid):
                return await super().prepare(run_dir, limits, uid)
            warm = await self._take(self._spares, self._spawn_built, BUILT_AHEAD)
        assert warm.workspace is not None
        workspace = warm.workspace
        # Whatever happens next, the built sandbox ends with its workspace, if not before.
        workspace.release = warm.discard
        self._claimed[workspace.root] = warm
        return workspace

    def ready_cgroups(self) -> set[Path]:
        """Cgroup directories of the spare processes waiting for a run (for leftover checks)."""
        return {d for w in self._ready() for d in w.cgroup.dirs}

    def ready_workspaces(self) -> set[Path]:
        """Workspace directories of the sandboxes built ahead, waiting for a run."""
        return {w.workspace.root for w in self._ready() if w.workspace is not None}

    def _pools(self) -> list[list[Future[WarmProcess]]]:
        return [self._spares, self._plain, *self._warm.values()]

    def _ready(self) -> list[WarmProcess]:
        futures = [f for pool in self._pools() for f in pool]
        return [f.result() for f in futures if f.exception(timeout=10) is None]

    def close(self) -> None:
        """Stop the spare processes and remove their cgroups and workspaces (bounded wait)."""
        wait([f for pool in self._pools() for f in pool], timeout=10)  # being started: soon
        for pool in self._pools():
            _close_spares(pool)

    async def run(self, spec: RunSpec) -> RawResult:
        """Run one program under bwrap (see :meth:`SandboxBackend.run`)."""
        self.check()
        warm = self._claimed.pop(spec.workspace.root, None)
        if warm is not None and (
            not set(spec.language.runtimes) <= set(warm.runtimes)
            or (warm.interpreter and warm_language(spec.language) != warm.interpreter)
        ):
            warm.discard()  # a runtime it could not bind: the older path says what is missing
            warm = None
        if warm is None:
            warm = await self._take(self._plain, self._spawn, 1)
        try:
            return await self._run_warm(warm, spec)
        finally:
            if warm.interpreter:
                # Once the caller has its answer: starting a sandbox holds the GIL at times.
                asyncio.get_running_loop().call_soon(self._fill_warm)
            # Every process of the run is dead by now (see _execute). Reaping bwrap and
            # removing the empty cgroup wait on the kernel: a sandbox built around the run's
            # workspace leaves them to the workspace's clean-up (its release hook).
            if warm.workspace is not spec.workspace:
                warm.discard()

    async def _run_warm(self, warm: WarmProcess, spec: RunSpec) -> RawResult:
        limits, popen = spec.limits, warm.popen
        assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
        if not warm.interpreter:  # a warm interpreter has its command line already
            script = [f"export {k}={shlex.quote(v)}" for k, v in spec.language.env.items()]
            script.append("exec " + " ".join(shlex.quote(a) for a in spec.language.command))
            (spec.workspace.code_dir / LAUNCHER_NAME).write_text("\n".join(script) + "\n")
        stdin, stdin_pipe = (spec.workspace.code_dir / "stdin").read_bytes(), popen.stdin
        loop = asyncio.get_running_loop()
        out, err = CappedBuffer(limits.output_limit), CappedBuffer(limits.output_limit)
        feeders = []

        def feed() -> None:  # once the program may start: a built sandbox's go comes first
            if len(stdin) <= _SMALL_STDIN:  # fits in the pipe: no thread needed
                _feed(stdin_pipe, stdin)
            else:
                feeders.append(asyncio.ensure_future(asyncio.to_thread(_feed, stdin_pipe, stdin)))

        readers = [PipeReader(loop, popen.stdout, out), PipeReader(loop, popen.stderr, err)]
        try:
            returncode, timed_out, elapsed = await self._execute(warm, spec, feed)
            # No process of the run can write any more: what it wrote is in the pipes. The
            # pipes' ends close later, as the processes' exits finish; no need to wait.
            for reader in readers:
                reader.drain()
            for feeder in feeders:
                await feeder
        finally:
            for reader in readers:
                reader.close()
        return RawResult.observed(
            out=out,
            err=err,
            exit_code=returncode if returncode >= 0 else 128 - returncode,
            execution_time=elapsed,
            timed_out=timed_out,
            oom=warm.cgroup.oom_killed(),
        )

    async def _execute(
        self, warm: WarmProcess, spec: RunSpec, started_hook: Callable[[], None]
    ) -> tuple[int, bool, float]:
        """Start the run, wait for its end or its timeout, kill what is left.

        ``started_hook`` is called once the program may start (it feeds its stdin). When a
        warm interpreter reports the program's exit status, bwrap's own exit (after the
        interpreter's) is not waited for: every process of the run is killed, and left for
        the clean-up to reap.

        Returns the exit status, whether the run timed out, and the wall-clock seconds.
        """
        started = time.monotonic()
        timed_out, exited, returncode = False, False, -1
        try:
            try:
                if warm.interpreter:
                    self.warm_runs += 1
                if warm.python:  # its command line is the go
                    argv = list(spec.language.command[len(PYTHON) :])
                    warm.go(spec.limits, json.dumps(argv).encode())
                elif warm.workspace is not None:  # built ahead: only the go is left
                    warm.go(spec.limits)
                else:
                    warm.start(self._options(spec, warm.seccomp_fd), spec.limits)
            except OSError as e:
                raise ExecutionFailedError(f"The sandbox did not start: {e}") from e
            started_hook()
            returncode, exited = await asyncio.wait_for(wait_end(warm), spec.limits.timeout)
        except TimeoutError:
            timed_out = True
        finally:
            elapsed = time.monotonic() - started
            # Whatever happened, nothing of the run survives it: once kill_all returns, every
            # process of the run is past writing anything (its exit is under way).
            warm.cgroup.kill_all()
            with contextlib.suppress(ProcessLookupError):
                warm.popen.kill()
            if not exited and not warm.python:
                returncode = await wait_exit(warm.popen)  # reaped by nobody else
        return returncode, timed_out, elapsed


class PipeReader:
    """Reads one of a run's output pipes into a :class:`CappedBuffer`, in the event loop.

    Reading goes on past the cap, so the writer never blocks on a full pipe. The run's end
    is known from its exit status, not from the pipe's end of file (which waits for every
    process holding it to finish exiting): :meth:`drain` then takes what is left.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, pipe: IO[bytes], buffer: CappedBuffer
    ) -> None:
        self._loop, self._fd, self._buffer = loop, pipe.fileno(), buffer
        os.set_blocking(self._fd, False)
        self._open = True
        loop.add_reader(self._fd, self._read)

    def _read(self) -> bool:
        """Read what is there; False once nothing more is (for now, or for good)."""
        try:
            data = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self._buffer.feed(data)
        return True

    def drain(self) -> None:
        """Read everything the pipe holds now."""
        while self._open and self._read():
            pass

    def close(self) -> None:
        """Stop reading (the pipe itself is closed with its process)."""
        if self._open:
            self._open = False
            self._loop.remove_reader(self._fd)


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
    """End a spare no run took, and remove its workspace if it was built around one."""
    if not future.cancelled() and future.exception() is None:
        warm = future.result()
        try:
            warm.discard()
        finally:
            if warm.workspace is not None:
                warm.workspace.cleanup()
