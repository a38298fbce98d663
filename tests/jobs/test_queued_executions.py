"""Code executions through the Redis fleet: ``execute_code`` runs on a ``masterai worker``.

The registry call (and its audit record) stays in the caller's process; the sandbox run is a
job on ``<queue_name>-exec``. Session calls run where the session lives; a full queue refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_redis_fleet import MASTERAI, REDIS, fleet_env

from masterai.api import create_app
from masterai.app import Platform
from masterai.jobs.executions import QueuedExecutions
from masterai.registry import ExecutionContext
from masterai.sandbox import CodeExecutionEnvironment, CodeExecutionRequest
from masterai.security import UserDirectory, load_principal
from masterai.settings import JobsSettings, SandboxSettings, Settings

pytestmark = pytest.mark.slow
__all__ = ["fleet_env"]


def fleet_settings(env: dict[str, str], **sandbox: Any) -> Settings:
    return Settings(
        home=Path(env["MASTERAI_HOME"]),
        sandbox=SandboxSettings(
            backend="bubblewrap", run_dir=Path(env["MASTERAI_SANDBOX__RUN_DIR"]), **sandbox
        ),
        jobs=JobsSettings(queue=REDIS, queue_name=env["MASTERAI_JOBS__QUEUE_NAME"]),
    )


@pytest.fixture
def platform(fleet_env: dict[str, str]) -> Iterator[Platform]:
    platform = Platform(fleet_settings(fleet_env))
    UserDirectory(platform.database).add_user("admin", "super_admin")
    yield platform
    platform.close()


@contextlib.contextmanager
def worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [MASTERAI, "worker", "--queue", REDIS],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def admin(platform: Platform) -> ExecutionContext:
    return ExecutionContext(principal=load_principal(platform.database, "admin"))


async def test_execute_code_runs_on_a_worker_and_is_audited_by_the_caller(
    platform: Platform, fleet_env: dict[str, str]
) -> None:
    code = "import sys\nprint(sum(range(10)))\nprint(sys.stdin.read())"
    with worker(fleet_env):
        result = await platform.call(
            "code",
            {"operation": "execute_code", "language": "python", "code": code, "stdin": "hi"},
            admin(platform),
        )
    assert result.ok, result.error
    assert result.data["result"]["output"] == "45\nhi\n"
    assert result.data["result"]["exit_code"] == 0
    [record] = platform.registry.audit_log.search(tool="code")
    assert (record.operation, record.status, record.id) == ("execute_code", "ok", result.audit_id)


async def test_a_burst_of_executions_is_spread_over_two_workers(
    platform: Platform, fleet_env: dict[str, str]
) -> None:
    calls = [
        platform.call(
            "code",
            {"operation": "execute_code", "language": "python", "code": f"print({i} * 2)"},
            admin(platform),
        )
        for i in range(6)
    ]
    with worker(fleet_env), worker(fleet_env):
        results = await asyncio.gather(*calls)
    assert [r.data["result"]["output"] for r in results] == [f"{i * 2}\n" for i in range(6)]
    assert {r.audit_id for r in results} == set(range(1, 7))


async def test_a_session_call_runs_where_the_session_lives_without_any_worker(
    platform: Platform,
) -> None:
    context = admin(platform)
    for code in ("open('note.txt', 'w').write('kept')", "print(open('note.txt').read())"):
        result = await platform.call(
            "code",
            {"operation": "execute_code", "language": "python", "code": code, "session": "s1"},
            context,
        )
        assert result.ok, result.error
    assert result.data["result"]["output"] == "kept\n"


async def test_a_full_execution_queue_refuses_the_call_at_once(
    fleet_env: dict[str, str],
) -> None:
    settings = fleet_settings(fleet_env, queue_size=1)
    request = CodeExecutionRequest(code="print(1)", language="python", timeout=1)
    fleet = QueuedExecutions(REDIS, settings, CodeExecutionEnvironment(settings))
    waiting = asyncio.create_task(fleet.execute_code(request))  # no worker takes it
    async with fleet.connected() as queue:
        async with asyncio.timeout(10):
            while await queue.count("queued") < 1:
                await asyncio.sleep(0.05)
        platform = Platform(settings)
        UserDirectory(platform.database).add_user("admin", "super_admin")
        try:
            async with asyncio.timeout(10):
                result = await platform.call(
                    "code",
                    {"operation": "execute_code", "language": "python", "code": "print(2)"},
                    admin(platform),
                )
        finally:
            platform.close()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
    assert result.status == "failed"
    assert "Execution queue is full: 1 executions wait" in (result.error or "")


CLOSED = "redis://127.0.0.1:1/0"
"""A Redis URL on which nothing listens (port 1 on loopback refuses at once)."""


async def test_an_unreachable_job_queue_is_an_audited_unavailable_answer_503_over_http(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home", jobs=JobsSettings(queue=CLOSED))
    platform = Platform(settings)
    try:
        UserDirectory(platform.database).add_user("admin", "super_admin")
        params = {"operation": "execute_code", "language": "python", "code": "print(1)"}
        result = await platform.call("code", params, admin(platform))
        assert (result.ok, result.status) == (False, "unavailable")
        assert result.error is not None and "job queue is not reachable" in result.error
        [record] = platform.registry.audit_log.search(tool="code")
        assert (record.status, record.id) == ("unavailable", result.audit_id)

        issued = await platform.call(
            "admin", {"operation": "issue_token", "name": "admin"}, admin(platform)
        )
        secret = issued.data["result"]["token"]
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post(
                "/api/v1/tools/code", json=params, headers={"Authorization": f"Bearer {secret}"}
            )
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["status"] == "unavailable" and "try again" in error["message"]
    finally:
        platform.close()
