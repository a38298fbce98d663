"""Parts of the sandbox that need no backend: sizes, limits, queue, filters, errors."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import subprocess
import time
from pathlib import Path

import pytest
from sandbox_helpers import leftovers, make_settings, run

from masterai.sandbox import (
    BackendUnavailableError,
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    ExecutionQueue,
    ExecutionResult,
    InvalidRequestError,
    LimitExceededError,
    QueueFullError,
    SandboxError,
    UnsupportedLanguageError,
    create_backend,
    parse_size,
)
from masterai.sandbox.cgroups import CgroupLayout, RunCgroup
from masterai.sandbox.limits import resolve_limits
from masterai.sandbox.models import Limits
from masterai.sandbox.runtimes import runtime_path
from masterai.sandbox.seccomp import DENIED_X86_64, build_filter, docker_profile
from masterai.settings import SandboxSettings, Settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1024, 1024), ("512m", 512 << 20), ("1GiB", 1 << 30), ("100MB", 100_000_000), ("1.5k", 1536)],
)
def test_sizes_parse_from_bytes_and_unit_strings(value: int | str, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "12 parsecs", "-5m", "0", True, ""])
def test_malformed_sizes_are_refused_with_the_value_named(value: int | str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_size(value, what="memory")
    assert repr(value) in str(info.value)


def test_defaults_are_the_seeds_limits() -> None:
    limits = resolve_limits(CodeExecutionRequest(code="", language="python"), SandboxSettings())
    assert (limits.timeout, limits.memory, limits.cpus) == (30.0, 512 << 20, 0.5)
    assert (limits.storage, limits.pids, limits.output_limit) == (100 << 20, 64, 1 << 20)


def test_every_limit_is_configurable_per_request_within_its_ceiling() -> None:
    settings = SandboxSettings(max_timeout=60, max_memory=1 << 30, max_pids=128)
    request = CodeExecutionRequest(
        code="", language="python", timeout=60, memory="1g", cpus=1, pids=128, storage="10m"
    )
    limits = resolve_limits(request, settings)
    assert (limits.timeout, limits.memory, limits.cpus, limits.pids) == (60, 1 << 30, 1, 128)
    with pytest.raises(LimitExceededError, match="pids 129"):
        resolve_limits(CodeExecutionRequest(code="", language="python", pids=129), settings)


@pytest.mark.parametrize(
    ("field", "value"), [("memory", "1m"), ("storage", 1000), ("cpus", 0.001), ("timeout", 0)]
)
def test_limits_below_what_a_backend_can_honour_are_refused(field: str, value: object) -> None:
    request = CodeExecutionRequest(code="", language="python", **{field: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=f"Invalid {field}: {value!r}"):
        resolve_limits(request, SandboxSettings())


def test_settings_read_sandbox_limits_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MASTERAI_SANDBOX__DEFAULT_TIMEOUT", "7")
    monkeypatch.setenv("MASTERAI_SANDBOX__BACKEND", "docker")
    settings = Settings().sandbox
    assert (settings.default_timeout, settings.backend) == (7.0, "docker")


def test_errors_form_one_family_under_sandbox_error() -> None:
    assert issubclass(UnsupportedLanguageError, InvalidRequestError)
    assert issubclass(LimitExceededError, InvalidRequestError)
    for error in (InvalidRequestError, BackendUnavailableError, QueueFullError):
        assert issubclass(error, SandboxError)


def test_result_json_carries_output_files_as_base64() -> None:
    result = ExecutionResult(
        output="ok", error="", exit_code=0, execution_time=0.1234567, files={"a.bin": b"\0\xff"}
    )
    data = result.to_json()
    assert base64.b64decode(data["files"]["a.bin"]) == b"\0\xff"
    assert data["execution_time"] == 0.123457 and json.loads(json.dumps(data)) == data


def test_seccomp_filter_is_a_whole_bpf_program_ending_in_returns() -> None:
    program = build_filter()
    assert len(program) % 8 == 0 and len(program) // 8 < 256
    last_code, *_ = struct.unpack("=HBBI", program[-8:])
    assert last_code == 0x06  # BPF_RET
    profile = json.loads(docker_profile())
    denied = profile["syscalls"][0]["names"]
    assert {"ptrace", "mount", "bpf", "keyctl", "userfaultfd", "unshare"} <= set(denied)
    assert set(DENIED_X86_64) <= set(denied)


async def test_queue_runs_at_most_n_at_once_in_arrival_order() -> None:
    queue = ExecutionQueue(max_concurrent=2, max_waiting=10)
    order: list[int] = []
    running, peak = 0, 0
    release = asyncio.Event()

    async def job(i: int) -> None:
        nonlocal running, peak
        async with queue.slot():
            order.append(i)
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(job(i)) for i in range(6)]
    async with asyncio.timeout(5):
        while queue.waiting < 4:
            await asyncio.sleep(0)
    assert (queue.running, queue.waiting, order) == (2, 4, [0, 1])
    release.set()
    await asyncio.gather(*tasks)
    assert order == list(range(6)) and peak == 2 and queue.running == 0


async def test_full_queue_refuses_and_a_cancelled_waiter_gives_up_its_place() -> None:
    queue = ExecutionQueue(max_concurrent=1, max_waiting=1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with queue.slot():
            await hold.wait()

    first = asyncio.create_task(holder())
    waiter = asyncio.create_task(holder())
    async with asyncio.timeout(5):
        while queue.waiting < 1:
            await asyncio.sleep(0)
    with pytest.raises(QueueFullError, match="queue_size=1"):
        async with queue.slot():
            pass
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert queue.waiting == 0
    hold.set()
    await first
    async with queue.slot():
        assert queue.running == 1


async def test_environment_queue_refuses_requests_beyond_its_size(
    sandbox: CodeExecutionEnvironment,
) -> None:
    env = CodeExecutionEnvironment(
        make_settings(max_concurrent=1, queue_size=1), backend=sandbox.backend
    )
    results = await asyncio.gather(
        *(run(env, "import time; time.sleep(0.5); print('done')") for _ in range(3)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, QueueFullError)]
    done = [r for r in results if isinstance(r, ExecutionResult) and r.output == "done\n"]
    shown = [
        (type(r).__name__, r.output, r.error[-500:], r.exit_code, r.timed_out)
        if isinstance(r, ExecutionResult)
        else repr(r)
        for r in results
    ]
    assert (len(refused), len(done)) == (1, 2), shown
    assert leftovers(env) == []


def test_missing_bubblewrap_is_a_clear_error_never_an_unsandboxed_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    backend = create_backend("bubblewrap", SandboxSettings())
    with pytest.raises(BackendUnavailableError, match="apt-get install bubblewrap"):
        backend.check()
    env = CodeExecutionEnvironment(SandboxSettings(), backend=backend)
    with pytest.raises(BackendUnavailableError):
        asyncio.run(env.execute_code(CodeExecutionRequest(code="print(1)", language="python")))


def test_unreachable_docker_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(BackendUnavailableError, match=r"docker\.io"):
        create_backend("docker", SandboxSettings()).check()


def test_unknown_backend_and_missing_runtime_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match=r"'firecracker'\. Available: bubblewrap, docker"):
        create_backend("firecracker", SandboxSettings())
    with pytest.raises(BackendUnavailableError, match="scripts/setup-sandbox"):
        runtime_path(SandboxSettings(runtime_dir=tmp_path), "python")


def test_cgroup_v2_limits_are_written_to_the_unified_files(tmp_path: Path) -> None:
    # This host runs cgroup v1, where the suite proves the limits hold; this checks the v2
    # file names and values (memory with swap counted, group OOM kill, pids, CPU quota).
    limits = resolve_limits(
        CodeExecutionRequest(code="", language="python", memory="64m", cpus=0.25, pids=10),
        SandboxSettings(),
    )
    (tmp_path / "memory.swap.max").write_text("max")
    RunCgroup(version=2, dirs=(tmp_path,)).apply(limits)
    written = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert written == {
        "memory.max": str(64 << 20),
        "memory.swap.max": "0",
        "memory.oom.group": "1",
        "pids.max": "10",
        "cpu.max": "25000 100000",
    }
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert RunCgroup(version=2, dirs=(tmp_path,)).oom_killed()


def test_limits_changed_in_place_rewrite_only_the_files_that_differ(tmp_path: Path) -> None:
    # A sandbox built ahead holds the default limits; its run writes only what differs.
    settings = SandboxSettings()
    default = resolve_limits(CodeExecutionRequest(code="", language="python"), settings)
    cgroup = RunCgroup(version=2, dirs=(tmp_path,))
    cgroup.apply(default, current=default)
    assert list(tmp_path.iterdir()) == []
    more = resolve_limits(
        CodeExecutionRequest(code="", language="python", memory="1g", cpus=1), settings
    )
    cgroup.apply(more, current=default)
    written = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert written == {"memory.max": str(1 << 30), "cpu.max": "100000 100000"}


def _real_cgroup(limits: Limits) -> RunCgroup:
    import shutil

    from sandbox_helpers import CGROUP_PARENT

    from service_guard import require_service

    require_service(shutil.which("bwrap") is not None, "bubblewrap is not installed")
    return CgroupLayout.detect(CGROUP_PARENT).create(f"run-{os.getpid()}-unit", limits)


def test_memory_lowered_and_raised_in_place_is_what_the_cgroup_holds() -> None:
    settings = SandboxSettings()
    default = resolve_limits(CodeExecutionRequest(code="", language="python"), settings)
    cgroup = _real_cgroup(default)
    try:
        held = default
        for memory in ("128m", "2g", "512m"):  # below, above, back to the default
            limits = resolve_limits(
                CodeExecutionRequest(code="", language="python", memory=memory), settings
            )
            cgroup.apply(limits, current=held)
            held = limits
            files = ["memory.max"] if cgroup.version == 2 else ["memory.limit_in_bytes"]
            memory_dir = cgroup.dirs[0]
            if (memory_dir / "memory.memsw.limit_in_bytes").exists():
                files.append("memory.memsw.limit_in_bytes")
            assert {int((memory_dir / f).read_text()) for f in files} == {limits.memory}
    finally:
        cgroup.remove()


def test_after_kill_all_no_process_of_the_run_writes_again(tmp_path: Path) -> None:
    # kill_all returns once every thread is exiting, before the kernel has finished tearing
    # the processes down: from then on, nothing of the run may change a file.
    default = resolve_limits(CodeExecutionRequest(code="", language="python"), SandboxSettings())
    cgroup = _real_cgroup(default)
    target = tmp_path / "written"
    writer = (
        "import os, threading\n"
        "def spin(name):\n"
        "    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)\n"
        "    while True:\n        os.write(fd, b'x')\n"
        f"threading.Thread(target=spin, args=({str(target)!r},)).start()\n"
        f"spin({str(target)!r})\n"
    )
    procs = cgroup.procs_files

    def join() -> None:
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)

    child = subprocess.Popen(["python3", "-c", writer], preexec_fn=join)
    try:
        deadline = time.monotonic() + 10
        while not target.exists() or target.stat().st_size < 1000:  # both threads writing
            assert time.monotonic() < deadline, "the writer never started"
        cgroup.kill_all()
        size = target.stat().st_size
        assert child.wait(timeout=10) == -9
        assert target.stat().st_size == size
    finally:
        cgroup.remove()


def test_a_new_backend_sweeps_only_cgroups_of_ended_processes() -> None:
    # An empty cgroup of a live process is about to be joined by a sandbox being built (in
    # this process, or another): sweeping it made that launch fail ("Exception occurred in
    # preexec_fn"). One named after a process that ended is a leftover and goes.
    import shutil

    from sandbox_helpers import CGROUP_PARENT

    from service_guard import require_service

    require_service(shutil.which("bwrap") is not None, "bubblewrap is not installed")

    settings = make_settings()
    layout = CgroupLayout.detect(CGROUP_PARENT)
    request = CodeExecutionRequest(code="print(1)", language="python")
    limits = resolve_limits(request, settings)
    mine = layout.create(f"run-{os.getpid()}-joiningsoon", limits)
    dead_pid = _a_pid_that_ended()
    stale = layout.create(f"run-{dead_pid}-leftover", limits)
    try:
        create_backend("bubblewrap", settings).check()
        assert all(d.exists() for d in mine.dirs)
        assert not any(d.exists() for d in stale.dirs)
    finally:
        mine.remove()
        stale.remove()


def _a_pid_that_ended() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
