"""The Docker backend (the seed's design), through the docker SDK.

Per run, one container from the language's locally built image
(:mod:`masterai.sandbox.images`): no network, memory = memory + swap, nano-CPUs, a pids
limit, a read-only root, size-limited tmpfs for ``/tmp``, the run's working directory (a
size-limited tmpfs on the host) bound at ``/work``, all capabilities dropped,
``no-new-privileges``, the bubblewrap backend's seccomp rules
(:func:`masterai.sandbox.seccomp.docker_profile`), the unprivileged sandbox user, no log
kept by the engine. The container is always removed, whatever happened.

What the program can read of its mounts names no host path of ours: the program's directory
and ``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf`` come from the run's own tmpfs
(:mod:`masterai.sandbox.workspace`), not from the engine's directory (which would name the
container's directory, and copy the host's DNS servers), and the container has a cgroup
namespace of its own. Docker's storage driver still names its image layers
(``/var/lib/docker/overlay2/...``) in the options of the root mount: see docs/sandbox.md.

A run at the default limits takes a container *started ahead* (``settings.warm_containers``
per language in use), around an empty workspace of its own, whose process waits for the
run's go on its standard input (:class:`StartedContainer`): creating and starting a
container are most of the engine's cost. For Python (and SQL, whose runner is Python) that
process is the warm interpreter of the bubblewrap backend, numpy, pandas and matplotlib
imported (``runners/warm_python.py``); for the other languages a shell that execs the
program. Each serves one run and is removed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from masterai.sandbox.base import CappedBuffer, RawResult, RunSpec, SandboxBackend
from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.images import image_name
from masterai.sandbox.languages import CODE_DIR, LANGUAGES, WORK_DIR, LanguageSpec
from masterai.sandbox.models import Limits
from masterai.sandbox.seccomp import docker_profile
from masterai.sandbox.warm import PYTHON, READY, preloaded_allowed, python_command, warm_language
from masterai.sandbox.workspace import RunWorkspace
from masterai.settings import SandboxSettings

_API_TIMEOUT = 30
RUN_LABEL = "org.masterai.sandbox.run"
RUN_DIR_LABEL = "org.masterai.sandbox.run_dir"
"""Label naming the run directory of the environment a container belongs to."""
OWNER_LABEL = "org.masterai.sandbox.owner"
"""Label holding the pid of the process that created a container (for containers created
ahead, never started: removed once that process is gone)."""
_STALE_FILTER = {"label": RUN_LABEL, "status": ["exited", "dead"]}
_CREATED_FILTER = {"label": OWNER_LABEL, "status": ["created"]}
_STALE_AFTER = 120  # seconds since a container ended before it counts as abandoned
_STDIN_WRAPPER = ("/bin/sh", "-c", f'exec "$@" < {CODE_DIR}/stdin', "sh")
_SMALL_STDIN = 16 * 1024
"""Bytes of stdin sent without a thread (a unix socket buffers far more)."""
ETC_FILES = {
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "hostname": "sandbox\n",
    "resolv.conf": "",  # no network: no name server
}
"""Bound at ``/etc``: the engine's own copies live in its directory for the container, whose
path the mount table would show (and its resolv.conf lists the host's name servers)."""


def _probe_unix_socket() -> None:
    """Fail early, and cleanly, when the engine's unix socket does not answer.

    The SDK leaks a socket when a connection is refused; probing first avoids that.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(3)
        try:
            probe.connect(path)
        except OSError as e:
            raise BackendUnavailableError(
                f"No Docker engine answers at {host!r} ({e.strerror or e}). Install docker.io "
                "(apt-get install docker.io) and start the engine (dockerd, or "
                "scripts/services.d/docker.sh), or use the bubblewrap backend"
            ) from e


def _connect(settings: SandboxSettings) -> Any:
    _probe_unix_socket()
    try:
        import docker
    except ImportError as e:  # pragma: no cover - a dependency of masterai
        raise BackendUnavailableError("The docker SDK is not installed: pip install docker") from e
    client = None
    try:
        client = docker.from_env(timeout=_API_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as e:
        if client is not None:
            client.close()
        raise BackendUnavailableError(
            f"No Docker engine answers ({e}). Install docker.io (apt-get install docker.io) "
            "and start the engine (dockerd, or scripts/services.d/docker.sh), or use the "
            "bubblewrap backend"
        ) from e
    return client


_CPU_PERIOD = 100_000
"""The CFS period of a container's CPU quota, in microseconds (the kernel's default)."""


def _quota(cpus: float) -> int:
    """The CFS quota holding a container to ``cpus`` cores."""
    return int(cpus * _CPU_PERIOD)


def _warm_python(language: LanguageSpec) -> bool:
    """Whether ``language``'s programs run on the warm Python interpreter (Python, SQL)."""
    return warm_language(language) == "python"


def _deadline(limits: Limits) -> int:
    """Seconds after which a run's container ends itself.

    The engine, not we, owns it, so this holds even if this process dies mid-run (normally
    we kill it first, at the timeout).
    """
    return math.ceil(limits.timeout) + 2


def _ahead_command(language: LanguageSpec, interpreter: str, limits: Limits) -> list[str]:
    """The command of a container started ahead: it waits for one line on stdin, the go.

    The warm interpreter reads the program's command line there; the shell reads an empty
    line, byte by byte, so the program's stdin follows untouched. Either holds the run to its
    deadline from the go on, not from the container's start.
    """
    if interpreter == "python":  # through the shell, as a cold run's command (it sets PWD)
        return ["/bin/sh", "-c", 'exec "$@"', "sh", *python_command(-1, _deadline(limits))]
    script = f'read -r _ || exit 125; exec /usr/bin/timeout -s KILL {_deadline(limits)} "$@"'
    return ["/bin/sh", "-c", script, "sh", *language.command]


@dataclass(kw_only=True)
class StartedContainer:
    """A container started ahead of its run, its process waiting for the go on stdin."""

    container: Any
    workspace: RunWorkspace
    language: str
    interpreter: str
    """``python`` for a warm interpreter (ready once it says so), empty for the shell."""
    sock: Any
    """The attach socket: the go and the program's stdin in, its output frames out."""
    ready: threading.Event = field(default_factory=threading.Event)
    failed: bool = False
    """The process ended before it was ready (a warm interpreter that could not import)."""

    def wait_ready(self, cpus: float) -> None:
        """Read the warm interpreter's output up to its ready line, then hold it to ``cpus``.

        Blocking (in a thread of its own). It imports at up to the CPU ceiling; the run is
        held to its own quota, set before it counts as ready.
        """
        from docker.utils.socket import STDOUT, next_frame_header, read_exactly

        said = b""
        try:
            while len(said) < len(READY):
                stream, size = next_frame_header(self.sock)
                if size < 0:
                    break  # it ended: the import failed
                data = read_exactly(self.sock, size) if size else b""
                if stream == STDOUT:
                    said += data
            if said == READY:
                self.container.update(cpu_period=_CPU_PERIOD, cpu_quota=_quota(cpus))
        except Exception:  # a broken stream, or no quota set: as if it had ended
            said = b""
        self.failed = said != READY
        self.ready.set()

    def go(self, language: LanguageSpec, stdin: bytes) -> None:
        """Send the go, then the program's stdin, then its end.

        A warm interpreter's go carries the program's command line. Blocks while the program
        does not read its stdin (the run sends a large one from a thread).
        """
        argv = list(language.command[len(PYTHON) :]) if self.interpreter else None
        line = json.dumps(argv).encode() if argv is not None else b""
        _send(getattr(self.sock, "_sock", self.sock), line + b"\n" + stdin)

    def discard(self) -> None:
        """Stop its process and remove the container (idempotent; the workspace stays)."""
        _close_socket(self.sock)
        _remove_container(self.container)


def _send(raw: Any, data: bytes) -> None:
    """Write ``data`` and close the writing side (the container's stdin then ends)."""
    with contextlib.suppress(OSError):
        raw.sendall(data)
    with contextlib.suppress(OSError):
        raw.shutdown(socket.SHUT_WR)


class DockerBackend(SandboxBackend):
    """Runs each program in a fresh, locked-down container."""

    name = "docker"

    def __init__(self, settings: SandboxSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._images_checked: set[str] = set()
        self._seccomp = docker_profile()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="masterai-docker")
        self._pool: dict[str, list[Future[StartedContainer]]] = {}
        """Containers started ahead, by language, oldest first."""
        self._broken: set[str] = set()
        """Languages whose warm interpreter could not get ready: their runs start cold."""
        self._claimed: dict[Path, StartedContainer] = {}
        """Containers handed out by :meth:`prepare`, by workspace root, until :meth:`run`."""
        self.warm_runs = 0
        """Runs served by a container started ahead (an observable for tests and benchmarks)."""
        self._defaults = Limits(
            timeout=settings.default_timeout,
            memory=settings.default_memory,
            cpus=settings.default_cpus,
            pids=settings.default_pids,
            storage=settings.default_storage,
            output_limit=settings.default_output_limit,
            max_output_files=settings.max_output_files,
            max_output_file_size=settings.max_output_file_size,
        )

    @property
    def client(self) -> Any:
        """The docker SDK client (connected on first use)."""
        if self._client is None:
            self._client = _connect(self.settings)
        return self._client

    def check(self) -> None:
        """Verify the engine answers (see :meth:`SandboxBackend.check`).

        The first check also removes exited sandbox containers left by a process that died
        mid-run (running ones may belong to a live process, and end by themselves).
        """
        if self._client is None:
            self._remove_abandoned(self.client)

    @staticmethod
    def _remove_abandoned(client: Any) -> None:
        now = time.time()
        for c in client.api.containers(all=True, filters=_STALE_FILTER):
            with contextlib.suppress(Exception):
                finished = client.api.inspect_container(c["Id"])["State"]["FinishedAt"]
                ended = datetime.fromisoformat(finished[:26].rstrip("Z") + "+00:00")
                if now - ended.timestamp() > _STALE_AFTER:
                    client.api.remove_container(c["Id"], force=True)
        for c in client.api.containers(all=True, filters=_CREATED_FILTER):
            with contextlib.suppress(Exception):
                if not _alive(int(c["Labels"][OWNER_LABEL])):
                    client.api.remove_container(c["Id"], force=True)

    def ready_containers(self) -> set[str]:
        """Ids of the containers started ahead, waiting for a run (for leftover checks)."""
        return {ahead.container.id for ahead in self._ahead()}

    def ready_workspaces(self) -> set[Path]:
        """Workspaces of the containers started ahead (for leftover checks)."""
        return {ahead.workspace.root for ahead in self._ahead()}

    def start_warm(self, language: str = "python") -> None:
        """Start ``language``'s containers ahead now rather than at its first run."""
        self.check()
        self._fill(LANGUAGES[language])

    def warm_ready(self, language: str = "python") -> int:
        """Containers of ``language`` started ahead and ready for a run (none is taken)."""
        pool = self._pool.get(language, [])
        done = [f.result() for f in pool if f.done() and f.exception() is None]
        return sum(1 for ahead in done if ahead.ready.is_set() and not ahead.failed)

    def _ahead(self) -> list[StartedContainer]:
        futures = [f for pool in self._pool.values() for f in pool]
        return [f.result() for f in futures if f.exception(timeout=30) is None]

    def _start_ahead(self, language: LanguageSpec) -> StartedContainer:
        """A container at the default limits around an empty workspace, started (blocking).

        A warm interpreter's imports go on after this returns: :attr:`StartedContainer.ready`
        says when they are done.
        """
        s = self.settings
        workspace = RunWorkspace.prepare(s.run_dir, storage=s.default_storage, uid=s.sandbox_uid)
        interpreter = "python" if _warm_python(language) else ""
        try:
            spec = RunSpec(
                run_id=uuid.uuid4().hex[:16],
                language=language,
                limits=self._defaults,
                workspace=workspace,
            )
            command = _ahead_command(language, interpreter, self._defaults)
            cpus = s.max_cpus if interpreter else self._defaults.cpus
            container = self._create(spec, command=command, cpus=cpus)
            try:
                sock = self.client.api.attach_socket(
                    container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
                ahead = StartedContainer(
                    container=container,
                    workspace=workspace,
                    language=language.name,
                    interpreter=interpreter,
                    sock=sock,
                )
                try:
                    container.start()
                except BaseException:
                    _close_socket(sock)
                    raise
            except BaseException:
                _remove_container(container)
                raise
        except BaseException:
            workspace.cleanup()
            raise
        if interpreter:
            ready = functools.partial(ahead.wait_ready, self._defaults.cpus)
            threading.Thread(target=ready, daemon=True).start()
        else:
            ahead.ready.set()
        return ahead

    def _fill(self, language: LanguageSpec) -> None:
        pool = self._pool.setdefault(language.name, [])
        while len(pool) < self.settings.warm_containers:
            pool.append(self._executor.submit(self._start_ahead, language))

    async def _take(self, language: LanguageSpec) -> StartedContainer | None:
        """A container started ahead for ``language`` and ready, oldest first, if one is.

        A warm interpreter still importing is waited for up to ``warm_python_wait`` (then the
        run starts cold); a shell's container is waited for until it is started.
        """
        self._fill(language)  # the first run: its pool starts now
        pool = self._pool[language.name]
        wait = self.settings.warm_python_wait if _warm_python(language) else _API_TIMEOUT
        deadline = time.monotonic() + wait
        while True:
            for future in list(pool):
                if not future.done():
                    continue
                ahead = future.result() if future.exception() is None else None
                if ahead is not None and ahead.ready.is_set() and not ahead.failed:
                    # Its replacement starts once the run is over (see run), not on its cores.
                    pool.remove(future)
                    return ahead
                if ahead is None or ahead.failed:
                    pool.remove(future)
                    _remove_when_done(future)
                    if ahead is None:
                        raise ExecutionFailedError(
                            f"Docker could not start the container: {future.exception()}"
                        )
                    self._broken.add(language.name)
                    return None
            if time.monotonic() >= deadline or not pool:
                return None
            await asyncio.sleep(0.01)

    async def prepare(
        self,
        run_dir: Path,
        limits: Limits,
        uid: int,
        *,
        language: LanguageSpec | None = None,
        policy: str | None = None,
    ) -> RunWorkspace:
        """The workspace of a container started ahead, for a run at the default limits.

        A Python or SQL run takes one only if its import ``policy`` lets the program import
        every preloaded package itself (as on the bubblewrap backend). Any other run gets a
        plain workspace, and :meth:`run` creates its container.
        """
        s = self.settings
        if (
            language is None
            or not s.warm_containers
            or language.name in self._broken
            or (limits, run_dir, uid) != (self._defaults, s.run_dir, s.sandbox_uid)
            or (_warm_python(language) and not preloaded_allowed(policy))
        ):
            return await super().prepare(run_dir, limits, uid)
        self.check()
        self._image(language.name)  # a missing image: say so now, not from the pool
        ahead = await self._take(language)
        if ahead is None:
            return await super().prepare(run_dir, limits, uid)
        ahead.workspace.release = ahead.discard
        self._claimed[ahead.workspace.root] = ahead
        return ahead.workspace

    def close(self) -> None:
        """Remove the containers started ahead, and close the connection to the engine."""
        futures = [f for pool in self._pool.values() for f in pool]
        wait(futures, timeout=30)
        for future in futures:
            _remove_when_done(future)
        self._pool.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _image(self, language: str) -> str:
        import docker.errors

        name = image_name(self.settings, language)
        if name not in self._images_checked:
            try:
                self.client.images.get(name)
            except docker.errors.ImageNotFound as e:
                raise BackendUnavailableError(
                    f"Sandbox image {name!r} is missing: build it with "
                    "'masterai sandbox build-images'"
                ) from e
            self._images_checked.add(name)
        return name

    def _create(
        self, spec: RunSpec, command: list[str] | None = None, cpus: float | None = None
    ) -> Any:
        """The run's container, created.

        ``command`` replaces the run's own: a container started ahead, which keeps its stdin
        open for the go. ``cpus`` replaces the run's CPU limit until it is updated.
        """
        from docker.types import LogConfig, Ulimit

        limits, ws, uid = spec.limits, spec.workspace, self.settings.sandbox_uid
        etc = ws.add_files(ETC_FILES).items()
        run_command = [
            *("/usr/bin/timeout", "-s", "KILL", str(_deadline(limits))),
            *_STDIN_WRAPPER,
            *spec.language.command,
        ]
        return self.client.containers.create(
            self._image(spec.language.name),
            command=command if command is not None else run_command,
            # Started ahead: stdin open, and closed when our attachment ends, so that one
            # waiting for a go whose process has died ends by itself (the SDK asks for that,
            # StdinOnce, only for a container it does not detach from).
            stdin_open=command is not None,
            detach=command is None,
            user=f"{uid}:{uid}",
            working_dir=WORK_DIR,
            environment=spec.language.environment,
            network_mode="none",
            mem_limit=limits.memory,
            memswap_limit=limits.memory,
            cpu_period=_CPU_PERIOD,
            cpu_quota=_quota(cpus or limits.cpus),
            pids_limit=limits.pids,
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.storage},mode=1777"},
            shm_size=limits.storage,
            volumes={
                str(ws.code_dir): {"bind": CODE_DIR, "mode": "ro"},
                str(ws.work_dir): {"bind": WORK_DIR, "mode": "rw"},
                **{str(path): {"bind": f"/etc/{name}", "mode": "ro"} for name, path in etc},
            },
            cgroupns="private",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", f"seccomp={self._seccomp}"],
            ulimits=[
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="nofile", soft=1024, hard=1024),
            ],
            log_config=LogConfig(type="none"),
            hostname="sandbox",
            labels={
                "org.masterai.sandbox.run": spec.run_id,
                RUN_DIR_LABEL: str(self.settings.run_dir),
                OWNER_LABEL: str(os.getpid()),
            },
        )

    async def run(self, spec: RunSpec) -> RawResult:
        """Run one program in a container (see :meth:`SandboxBackend.run`)."""
        import docker.errors

        ahead = self._claimed.pop(spec.workspace.root, None)
        if ahead is not None and ahead.language != spec.language.name:
            await asyncio.to_thread(ahead.discard)  # another language than it was started for
            ahead = None
        if ahead is not None:
            self.warm_runs += 1
            container = ahead.container
        else:
            try:
                container = await asyncio.to_thread(self._create, spec)
            except docker.errors.DockerException as e:
                raise ExecutionFailedError(f"Docker could not create the container: {e}") from e
            spec.workspace.release = functools.partial(_remove_container, container)
        # A run that ends has ended its container: the workspace's clean-up, after the
        # answer, removes it (a container started ahead's release does too).
        try:
            return await self._run_container(container, spec, ahead)
        except BaseException:
            _remove_container(container)  # at once (even cancelled): nothing of it outlives us
            raise
        finally:
            if ahead is not None:
                # Once the caller has its answer: starting a container costs the engine CPU,
                # and a warm interpreter's imports up to two cores.
                asyncio.get_running_loop().call_soon(self._fill, spec.language)

    async def _run_container(
        self, container: Any, spec: RunSpec, ahead: StartedContainer | None
    ) -> RawResult:
        """Start the run, wait for its end or its timeout, and collect what it wrote.

        The run starts with the container's start, or with the go of one started ahead.
        """
        import docker.errors

        limits = spec.limits
        out, err = CappedBuffer(limits.output_limit), CappedBuffer(limits.output_limit)
        feeder: asyncio.Future[None] | None = None
        try:
            if ahead is None:
                sock = self.client.api.attach_socket(
                    container.id, params={"stdout": 1, "stderr": 1, "stream": 1}
                )
            else:
                sock = ahead.sock
            reader = threading.Thread(target=_read_frames, args=(sock, out, err), daemon=True)
            reader.start()
            started = time.monotonic()
            if ahead is None:
                await asyncio.to_thread(container.start)
            else:
                stdin = (spec.workspace.code_dir / "stdin").read_bytes()
                if len(stdin) <= _SMALL_STDIN:  # fits in the socket's buffer: sent at once
                    ahead.go(spec.language, stdin)
                else:  # in a thread: the program may never read it
                    feeder = asyncio.ensure_future(
                        asyncio.to_thread(ahead.go, spec.language, stdin)
                    )
        except docker.errors.DockerException as e:
            raise ExecutionFailedError(f"Docker could not start the container: {e}") from e
        waiter = asyncio.ensure_future(asyncio.to_thread(container.wait))
        timed_out = False
        try:
            status = await asyncio.wait_for(asyncio.shield(waiter), limits.timeout)
        except TimeoutError:
            timed_out = True
            with contextlib.suppress(docker.errors.DockerException):
                await asyncio.to_thread(container.kill)
            status = await waiter
        elapsed = time.monotonic() - started
        await asyncio.to_thread(reader.join, 5.0)
        if feeder is not None:
            await feeder  # the socket is closed: it has ended
        await asyncio.to_thread(container.reload)
        state = container.attrs.get("State") or {}
        return RawResult.observed(
            out=out,
            err=err,
            exit_code=int(status.get("StatusCode", state.get("ExitCode", -1))),
            execution_time=elapsed,
            timed_out=timed_out,
            oom=bool(state.get("OOMKilled")),
            truncated=reader.is_alive(),  # output still streaming when we stopped reading
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_container(container: Any) -> None:
    """Remove a container, whatever its state (idempotent)."""
    with contextlib.suppress(Exception):
        container.remove(force=True)


def _remove_when_done(future: Future[StartedContainer]) -> None:
    """Remove a container started ahead that no run took, and its workspace."""
    if not future.cancelled() and future.exception() is None:
        ahead = future.result()
        ahead.discard()
        ahead.workspace.cleanup()


def _read_frames(sock: Any, out: CappedBuffer, err: CappedBuffer) -> None:
    """Copy the container's multiplexed output into the two capped buffers, then close."""
    from docker.utils.socket import STDERR, STDOUT, frames_iter

    try:
        for stream_id, data in frames_iter(sock, tty=False):
            if stream_id == STDOUT:
                out.feed(data)
            elif stream_id == STDERR:
                err.feed(data)
    except Exception:  # the stream breaks when the container is killed: output ends there
        pass
    finally:
        _close_socket(sock)


def _close_socket(sock: Any) -> None:
    """Close an attach socket for good (closing the SDK's wrapper leaves the socket open)."""
    for obj in (getattr(sock, "_response", None), sock, getattr(sock, "_sock", None)):
        with contextlib.suppress(Exception):
            if obj is not None:
                obj.close()
