"""Helpers shared by the sandbox tests (imported by name; tests/sandbox is on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from masterai.sandbox import CodeExecutionEnvironment, CodeExecutionRequest, ExecutionResult
from masterai.settings import SandboxSettings

# Run directories must be reachable by the sandbox user (bwrap binds them as that user),
# so not under pytest's private tmp directory.
RUN_DIR = Path(f"/tmp/masterai-sandbox-tests-{os.getpid()}")
CGROUP_PARENT = f"masterai-sandbox-tests-{os.getpid()}"
ENVIRONMENTS: list[CodeExecutionEnvironment] = []
"""The environments of the ``sandbox`` fixture (they share ``RUN_DIR``)."""


WARM = os.environ.get("MASTERAI_TEST_WARM_PYTHON") == "1"
"""Run the suite's programs on warm interpreters and containers started ahead (each Python run
waits for one)."""


def make_settings(**overrides: Any) -> SandboxSettings:
    """Settings for tests: a private run directory, short default timeout, 4 runs at once.

    Warm Python interpreters are off (tests/sandbox/test_sandbox_warm.py turns them on), so
    the suite sees the sandboxes built ahead deterministically; with
    ``MASTERAI_TEST_WARM_PYTHON=1`` every Python run at the default limits waits for one (and
    Docker runs at the default limits take containers started ahead).
    """
    values: dict[str, Any] = {
        "run_dir": RUN_DIR,
        "default_timeout": 10.0,
        "max_concurrent": 4,
        # Per test process, so concurrent test runs never see each other's cgroups.
        "cgroup_parent": CGROUP_PARENT,
        "warm_python": 2 if WARM else 0,
        "warm_python_wait": 120.0 if WARM else 0.0,
        "warm_node": 0,
        "warm_containers": 2 if WARM else 0,
    }
    values.update(overrides)
    return SandboxSettings(**values)


def leftovers(env: CodeExecutionEnvironment) -> list[str]:
    """Traces of finished runs on the host: run dirs, cgroups, containers (should be none)."""
    env.wait_idle()  # run directories are removed just after the result is returned
    found = [str(p) for p in RUN_DIR.glob("*")] if RUN_DIR.exists() else []
    # A sandbox built (or a container started) ahead for a next run has a workspace of its own.
    ready = {
        path
        for e in {id(e): e for e in [*ENVIRONMENTS, env]}.values()
        for path in e.backend.ready_workspaces()  # type: ignore[attr-defined]
    }
    found = [p for p in found if Path(p) not in ready]
    if env.backend.name == "bubblewrap":
        # So are the cgroups of every bubblewrap environment's sandboxes built ahead.
        spares = {
            path
            for e in {id(e): e for e in [*ENVIRONMENTS, env]}.values()
            if e.backend.name == "bubblewrap"
            for path in e.backend.ready_cgroups()  # type: ignore[attr-defined]
        }
        for parent in ("memory", "pids", "cpu", ""):
            base = Path("/sys/fs/cgroup") / parent / env.settings.cgroup_parent
            if base.is_dir():
                found += [str(p) for p in base.glob("run-*") if p not in spares]
    else:
        client = env.backend.client  # type: ignore[attr-defined]
        label = f"org.masterai.sandbox.run_dir={env.settings.run_dir}"
        # Containers started ahead for next runs are not leftovers either.
        ready = {
            cid
            for e in {id(e): e for e in [*ENVIRONMENTS, env]}.values()
            if e.backend.name == "docker"
            for cid in e.backend.ready_containers()  # type: ignore[attr-defined]
        }
        found += [
            c["Id"]
            for c in client.api.containers(all=True, filters={"label": label})
            if c["Id"] not in ready
        ]
    return found


async def run(
    env: CodeExecutionEnvironment, code: str, language: str = "python", **kw: Any
) -> ExecutionResult:
    """Execute ``code`` and return the result."""
    return await env.execute_code(CodeExecutionRequest(code=code, language=language, **kw))
