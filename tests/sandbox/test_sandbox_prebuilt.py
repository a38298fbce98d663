"""The bubblewrap backend's sandbox built ahead: one run each, the older path for the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sandbox_helpers import RUN_DIR, leftovers, make_settings, run

from masterai.sandbox import CodeExecutionEnvironment, InvalidRequestError
from masterai.sandbox.bubblewrap import BUILT_AHEAD

BUBBLEWRAP = pytest.mark.parametrize("sandbox", ["bubblewrap"], indirect=True)

SIZES = """
import os
for path in ("/work", "/tmp", "/dev/shm"):
    st = os.statvfs(path)
    print(path, st.f_blocks * st.f_frsize)
"""


def _cgroup_parents(env: CodeExecutionEnvironment) -> list[Path]:
    base = Path("/sys/fs/cgroup")
    parents = [base / c / env.settings.cgroup_parent for c in ("memory", "pids", "cpu", "")]
    return [p for p in parents if p.is_dir()]


def _sizes(output: str) -> dict[str, int]:
    return {path: int(size) for path, size in (line.split() for line in output.splitlines())}


@BUBBLEWRAP
async def test_a_default_run_takes_the_sandbox_built_ahead_and_it_is_never_reused(
    sandbox: CodeExecutionEnvironment,
) -> None:
    await run(sandbox, "pass")  # sandboxes are now built ahead for the next runs
    built = sandbox.backend.ready_workspaces()  # type: ignore[attr-defined]
    assert len(built) == BUILT_AHEAD
    result = await run(sandbox, SIZES)
    assert result.exit_code == 0, result.error
    storage = sandbox.settings.default_storage
    assert _sizes(result.output) == {"/work": storage, "/tmp": storage, "/dev/shm": storage}
    after = sandbox.backend.ready_workspaces()  # type: ignore[attr-defined]
    used = built - after
    assert len(used) == 1 and len(after) == BUILT_AHEAD  # a fresh one replaced the used one
    assert leftovers(sandbox) == []
    assert not any(path.exists() for path in used)


@BUBBLEWRAP
async def test_a_run_with_another_storage_size_builds_its_own_sandbox_when_it_comes(
    sandbox: CodeExecutionEnvironment,
) -> None:
    await run(sandbox, "pass")
    built = sandbox.backend.ready_workspaces()  # type: ignore[attr-defined]
    result = await run(sandbox, SIZES, storage="16m")
    assert result.exit_code == 0, result.error
    assert _sizes(result.output) == {"/work": 16 << 20, "/tmp": 16 << 20, "/dev/shm": 16 << 20}
    assert sandbox.backend.ready_workspaces() == built  # left for a run it can serve
    assert leftovers(sandbox) == []


@BUBBLEWRAP
async def test_stdin_reaches_the_program_byte_for_byte_after_the_launchers_go(
    sandbox: CodeExecutionEnvironment,
) -> None:
    data = b"\n\nfirst line\n\x00\xff last, no newline"
    code = "import sys; sys.stdout.write(repr(sys.stdin.buffer.read()))"
    await run(sandbox, "pass")
    result = await run(sandbox, code, stdin=data)
    assert result.output == repr(data), result.error


@BUBBLEWRAP
async def test_input_files_that_do_not_fit_end_the_sandbox_built_for_the_run(
    sandbox: CodeExecutionEnvironment,
) -> None:
    run_dir = RUN_DIR / "small-storage"
    env = CodeExecutionEnvironment(
        make_settings(run_dir=run_dir, default_storage=1 << 20), backend="bubblewrap"
    )
    try:
        await run(env, "pass")
        built = env.backend.ready_workspaces()  # type: ignore[attr-defined]
        with pytest.raises(InvalidRequestError, match="do not fit"):
            await run(env, "pass", files={"big.bin": b"x" * (2 << 20)})
        env.wait_idle()
        used = built - env.backend.ready_workspaces()  # type: ignore[attr-defined]
        assert len(used) == 1 and not any(path.exists() for path in used)
        # Only the sandboxes built ahead for next runs are left, each in its own cgroup.
        backends = [env.backend, sandbox.backend]
        ready = [b.ready_workspaces() for b in backends]  # type: ignore[attr-defined]
        assert {p.parent for p in run_dir.glob("*/owner")} == ready[0]
        spares = set().union(*(b.ready_cgroups() for b in backends))  # type: ignore[attr-defined]
        cgroups = {d for parent in _cgroup_parents(env) for d in parent.glob("run-*")}
        assert cgroups == spares
        assert (await run(env, "print(6 * 7)")).output == "42\n"
    finally:
        env.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    assert not Path(run_dir).exists()
