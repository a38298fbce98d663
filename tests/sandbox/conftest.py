"""Fixtures of the sandbox tests: one environment per backend, and a leftover check.

Every contract and hostile test that takes ``sandbox`` runs once per backend (bubblewrap,
docker). A backend that cannot work here skips locally and fails in CI.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import CGROUP_PARENT, ENVIRONMENTS, RUN_DIR, make_settings

from masterai.sandbox import BACKENDS, CodeExecutionEnvironment, SandboxError, create_backend

_ENVS: dict[str, CodeExecutionEnvironment] = {}
_UNAVAILABLE: dict[str, str] = {}


def require_service(config: pytest.Config, available: bool, reason: str) -> None:
    """``tests/conftest.py``'s ``require_service`` (its module is registered as a plugin)."""
    root = config.pluginmanager.get_plugin(str(Path(__file__).resolve().parents[1] / "conftest.py"))
    root.require_service(available, reason)


def _environment(name: str) -> CodeExecutionEnvironment | None:
    if name not in _ENVS and name not in _UNAVAILABLE:
        settings = make_settings()
        try:
            backend = create_backend(name, settings)
            backend.check()
            if name == "docker":
                from masterai.sandbox.images import iter_missing

                missing = list(iter_missing(backend.client, settings))  # type: ignore[attr-defined]
                if missing:
                    raise SandboxError(f"images missing for {missing}: run build-images")
            _ENVS[name] = CodeExecutionEnvironment(settings, backend=backend)
            ENVIRONMENTS.append(_ENVS[name])
        except SandboxError as e:
            _UNAVAILABLE[name] = f"{name} backend unavailable: {e}"
    return _ENVS.get(name)


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> CodeExecutionEnvironment:
    """A ``CodeExecutionEnvironment`` on each backend in turn."""
    env = _environment(request.param)
    require_service(request.config, env is not None, _UNAVAILABLE.get(request.param, ""))
    assert env is not None
    return env


@pytest.fixture(scope="session", autouse=True)
def _run_dir() -> Iterator[None]:
    yield
    for env in _ENVS.values():
        env.close()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    # Closing hands the spare processes to a worker that removes their cgroups; wait (bounded)
    # for that, then remove this test process's parent cgroups.
    parents = [
        Path("/sys/fs/cgroup") / controller / CGROUP_PARENT
        for controller in ("memory", "pids", "cpu", "unified", "")
    ]
    deadline = time.monotonic() + 10
    while any(p.is_dir() and any(p.glob("*/")) for p in parents):
        if time.monotonic() > deadline:
            raise AssertionError(f"sandbox cgroups left under {CGROUP_PARENT}")
        time.sleep(0.05)
    for parent in parents:
        if parent.is_dir():
            parent.rmdir()
    _remove_parents_of_ended_test_processes()


def _remove_parents_of_ended_test_processes() -> None:
    """Empty per-process test cgroups of test processes that ended without cleaning up.

    The hostile suite kills a host process mid-run on purpose; its cgroups are named after
    that process, so no later backend sweeps them.
    """
    for parent in Path("/sys/fs/cgroup").glob("*/masterai-sandbox-tests-*"):
        pid = parent.name.rsplit("-", 1)[1]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        with contextlib.suppress(OSError):  # a cgroup with processes still in it stays
            for child in parent.glob("run-*/"):
                child.rmdir()
            parent.rmdir()
