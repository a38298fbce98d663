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

A run at the default limits takes a container *created ahead* (``settings.warm_containers``
per language in use), around an empty workspace of its own, and only starts it: creating a
container is a good part of the engine's cost. Each serves one run and is removed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import Any

from masterai.sandbox.base import CappedBuffer, RawResult, RunSpec, SandboxBackend
from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.images import image_name
from masterai.sandbox.languages import CODE_DIR, WORK_DIR, LanguageSpec
from masterai.sandbox.models import Limits
from masterai.sandbox.seccomp import docker_profile
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


class DockerBackend(SandboxBackend):
    """Runs each program in a fresh, locked-down container."""

    name = "docker"

    def __init__(self, settings: SandboxSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._images_checked: set[str] = set()
        self._seccomp = docker_profile()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="masterai-docker")
        self._pool: dict[str, list[Future[tuple[Any, RunWorkspace]]]] = {}
        """Containers created ahead, by language, oldest first."""
        self._claimed: dict[Path, Any] = {}
        """Containers handed out by :meth:`prepare`, by workspace root, until :meth:`run`."""
        self.warm_runs = 0
        """Runs served by a container created ahead (an observable for tests and benchmarks)."""
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
        """Ids of the containers created ahead, waiting for a run (for leftover checks)."""
        futures = [f for pool in self._pool.values() for f in pool]
        return {f.result()[0].id for f in futures if f.exception(timeout=30) is None}

    def _create_ahead(self, language: LanguageSpec) -> tuple[Any, RunWorkspace]:
        """A container at the default limits around an empty workspace (blocking)."""
        s = self.settings
        workspace = RunWorkspace.prepare(s.run_dir, storage=s.default_storage, uid=s.sandbox_uid)
        try:
            spec = RunSpec(
                run_id=uuid.uuid4().hex[:16],
                language=language,
                limits=self._defaults,
                workspace=workspace,
            )
            return self._create(spec), workspace
        except BaseException:
            workspace.cleanup()
            raise

    def _fill(self, language: LanguageSpec) -> None:
        pool = self._pool.setdefault(language.name, [])
        while len(pool) < self.settings.warm_containers:
            pool.append(self._executor.submit(self._create_ahead, language))

    async def prepare(
        self,
        run_dir: Path,
        limits: Limits,
        uid: int,
        *,
        language: LanguageSpec | None = None,
        policy: str | None = None,
    ) -> RunWorkspace:
        """The workspace of a container created ahead, for a run at the default limits.

        Any other run gets a plain workspace, and :meth:`run` creates its container.
        """
        s = self.settings
        if (
            language is None
            or not s.warm_containers
            or (limits, run_dir, uid) != (self._defaults, s.run_dir, s.sandbox_uid)
        ):
            return await super().prepare(run_dir, limits, uid)
        self.check()
        self._image(language.name)  # a missing image: say so now, not from the pool
        self._fill(language)
        future = self._pool[language.name].pop(0)
        self._fill(language)
        try:
            container, workspace = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_remove_when_done)
            raise
        except Exception as e:
            raise ExecutionFailedError(f"Docker could not create the container: {e}") from e
        workspace.release = functools.partial(_remove_container, container)
        self._claimed[workspace.root] = (container, language.name)
        return workspace

    def close(self) -> None:
        """Remove the containers created ahead, and close the connection to the engine."""
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

    def _create(self, spec: RunSpec) -> Any:
        from docker.types import LogConfig, Ulimit

        limits, ws, uid = spec.limits, spec.workspace, self.settings.sandbox_uid
        etc = ws.add_files(ETC_FILES).items()
        return self.client.containers.create(
            self._image(spec.language.name),
            # The container ends itself past its time even if this process dies mid-run
            # (the engine, not we, owns it); normally we kill it first, at the timeout.
            command=[
                *("/usr/bin/timeout", "-s", "KILL", str(math.ceil(limits.timeout) + 2)),
                *_STDIN_WRAPPER,
                *spec.language.command,
            ],
            user=f"{uid}:{uid}",
            working_dir=WORK_DIR,
            environment=spec.language.environment,
            network_mode="none",
            mem_limit=limits.memory,
            memswap_limit=limits.memory,
            nano_cpus=int(limits.cpus * 1e9),
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
            detach=True,
        )

    async def run(self, spec: RunSpec) -> RawResult:
        """Run one program in a container (see :meth:`SandboxBackend.run`)."""
        import docker.errors

        container, language = self._claimed.pop(spec.workspace.root, (None, ""))
        if container is not None and language == spec.language.name:
            self.warm_runs += 1
        else:
            if container is not None:  # another language than it was created for
                await asyncio.to_thread(_remove_container, container)
            try:
                container = await asyncio.to_thread(self._create, spec)
            except docker.errors.DockerException as e:
                raise ExecutionFailedError(f"Docker could not create the container: {e}") from e
        try:
            return await self._run_container(container, spec)
        finally:
            with contextlib.suppress(docker.errors.DockerException):
                await asyncio.to_thread(container.remove, force=True)

    async def _run_container(self, container: Any, spec: RunSpec) -> RawResult:
        import docker.errors

        limits = spec.limits
        out, err = CappedBuffer(limits.output_limit), CappedBuffer(limits.output_limit)
        try:
            sock = self.client.api.attach_socket(
                container.id, params={"stdout": 1, "stderr": 1, "stream": 1}
            )
            reader = threading.Thread(target=_read_frames, args=(sock, out, err), daemon=True)
            reader.start()
            started = time.monotonic()
            await asyncio.to_thread(container.start)
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


def _remove_when_done(future: Future[tuple[Any, RunWorkspace]]) -> None:
    """Remove a container created ahead that no run took, and its workspace."""
    if not future.cancelled() and future.exception() is None:
        container, workspace = future.result()
        _remove_container(container)
        workspace.cleanup()


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
