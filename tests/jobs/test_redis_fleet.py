"""A real Redis fleet: two ``masterai worker --queue redis://...`` processes, one killed mid-run.

The run completes on the other worker, is recorded once (one ``script.succeeded``) and shows
both attempts, the first one lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from saq.job import Status
from saq.utils import now as saq_now

from masterai.app import Platform
from masterai.jobs.redis import RedisQueue
from masterai.registry import ExecutionContext
from masterai.security import UserDirectory, load_principal
from masterai.services.scripts import ScriptService
from masterai.settings import JobsSettings, SandboxSettings, Settings
from masterai.store.models import utcnow
from masterai.store.models.events import Event
from masterai.store.models.scripts import ScriptRun, ScriptSchedule
from service_guard import require_service

REDIS = "redis://127.0.0.1:6379/0"
MASTERAI = str(Path(sys.executable).with_name("masterai"))
pytestmark = pytest.mark.slow


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def fleet_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    require_service(redis_up(), "Redis unreachable at 127.0.0.1:6379")
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-fleet-"))
    run_dir.chmod(0o755)
    env = {
        **os.environ,
        "MASTERAI_HOME": str(tmp_path / "home"),
        "MASTERAI_SANDBOX__BACKEND": "bubblewrap",
        "MASTERAI_SANDBOX__RUN_DIR": str(run_dir),
        "MASTERAI_JOBS__QUEUE_NAME": f"test-{uuid.uuid4().hex[:10]}",
        "MASTERAI_JOBS__HEARTBEAT": "0.2",
        "MASTERAI_JOBS__STALE_AFTER": "2",
        "MASTERAI_JOBS__LEASE_SECONDS": "1",
        "MASTERAI_JOBS__TICK": "0.3",
        "MASTERAI_INTEGRATIONS__DISPATCH": "false",
    }
    env.pop("MASTERAI_DATABASE_URL", None)
    yield env
    shutil.rmtree(run_dir, ignore_errors=True)


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        home=Path(env["MASTERAI_HOME"]),
        sandbox=SandboxSettings(
            backend="bubblewrap", run_dir=Path(env["MASTERAI_SANDBOX__RUN_DIR"])
        ),
        jobs=JobsSettings(queue_name=env["MASTERAI_JOBS__QUEUE_NAME"]),
    )


async def until(condition: Any, what: str, seconds: float = 60) -> Any:
    """Poll ``condition()`` until it returns something truthy, at most ``seconds``."""
    async with asyncio.timeout(seconds):
        while not (value := await asyncio.to_thread(condition)):
            await asyncio.sleep(0.1)
    assert value, what
    return value


async def test_a_run_survives_its_worker_being_killed_and_is_recorded_once(
    fleet_env: dict[str, str],
) -> None:
    platform = Platform(settings_of(fleet_env))
    database = platform.database
    UserDirectory(database).add_user("admin", "super_admin")
    context = ExecutionContext(principal=load_principal(database, "admin"))
    created = await platform.call(
        "code",
        {
            "operation": "create_script",
            "name": "slow",
            "language": "python",
            "code": "import time\ntime.sleep(4)\nprint('done')",
            "timeout": 60,
            "schedule": "0 2 * * *",
        },
        context,
    )
    assert created.ok, created.error
    with database.session() as session:
        session.execute(sa.update(ScriptSchedule).values(enabled=False))
        schedule_id = session.scalars(sa.select(ScriptSchedule.id)).one()
    run_id = ScriptService(database).record_tick(schedule_id, utcnow() - timedelta(minutes=1))
    assert run_id is not None

    workers = [
        subprocess.Popen(
            [MASTERAI, "worker", "--queue", REDIS],
            env=fleet_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        producer = RedisQueue(
            REDIS, lambda _: asyncio.sleep(0), settings=settings_of(fleet_env).jobs
        )
        await producer.enqueue(run_id)
        await producer.close()

        def running_on() -> str | None:
            with database.session() as session:
                run = session.get(ScriptRun, run_id)
                return run.worker if run is not None and run.status == "running" else None

        first = await until(running_on, "the run started on a worker")
        victim = next(w for w in workers if first.endswith(f":{w.pid}"))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)

        def finished() -> ScriptRun | None:
            with database.session() as session:
                run = session.get(ScriptRun, run_id)
                return run if run is not None and run.status not in ("queued", "running") else None

        run = await until(finished, "the run finished on the other worker", seconds=90)
        with database.session() as session:
            events = session.scalars(sa.select(Event.type).where(Event.type.like("script.%"))).all()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        platform.close()

    survivor = next(w for w in workers if w is not victim)
    assert (run.status, run.stdout) == ("succeeded", "done\n")
    assert [(a["attempt"], a["outcome"]) for a in run.attempts] == [(1, "lost"), (2, "succeeded")]
    assert run.attempts[0]["worker"] == first and run.attempts[1]["worker"].endswith(
        f":{survivor.pid}"
    )
    assert events == ["script.succeeded"]


async def test_a_waiting_job_is_not_added_twice_but_a_lost_one_is_added_again() -> None:
    """The scheduler's re-enqueue of long-queued runs costs nothing while their job is there."""
    require_service(redis_up(), "Redis unreachable at 127.0.0.1:6379")
    settings = JobsSettings(queue_name=f"test-{uuid.uuid4().hex[:10]}")
    queue = RedisQueue(REDIS, lambda _: asyncio.sleep(0), settings=settings)
    try:
        await queue.enqueue(7)
        await queue.enqueue(7)
        await queue.enqueue(7, attempt=1)  # a retry after a lost attempt is a job of its own
        twice = await queue.queue.count("queued")
        redis = queue.queue.redis  # a Redis restart without persistence: the queue is gone
        await redis.delete(*[k async for k in redis.scan_iter(match=f"*{settings.queue_name}*")])
        await queue.enqueue(7)
        again = await queue.queue.count("queued")
    finally:
        await queue.close()

    assert (twice, again) == (2, 1)


async def _take(queue: RedisQueue) -> Any:
    """Take the next job as a SAQ worker does (active, one attempt), and return it."""
    job = await queue.queue.dequeue(timeout=2)
    assert job is not None
    job.started = saq_now()
    job.attempts += 1
    await job.update(status=Status.ACTIVE)
    return job


async def test_a_job_taken_by_a_worker_that_died_before_claiming_its_run_comes_back() -> None:
    """The job is swept after ``stale_after`` without a beat and runs on a live worker.

    Before jobs were beaten, such a job stayed active in Redis for the run's whole time-out
    and the run stayed queued: re-enqueueing it was dropped as a duplicate.
    """
    require_service(redis_up(), "Redis unreachable at 127.0.0.1:6379")
    settings = JobsSettings(
        queue_name=f"test-{uuid.uuid4().hex[:10]}", stale_after=1, heartbeat=0.2
    )
    executed: list[int] = []

    async def execute(run_id: int) -> None:
        executed.append(run_id)

    queue = RedisQueue(REDIS, execute, settings=settings)
    stop = asyncio.Event()
    try:
        await queue.enqueue(7)
        dead = await _take(queue)  # the worker that took it is killed here
        await queue.enqueue(7)  # the scheduler's re-enqueue: dropped, the job is incomplete
        assert await queue.queue.count("incomplete") == 1
        await asyncio.sleep(1.5)
        assert (await queue.queue.job(dead.key)).stuck  # type: ignore[union-attr]
        assert await queue.queue.sweep() == [dead.id]
        serving = asyncio.create_task(queue.run(stop))
        await until(lambda: executed == [7] or None, "the swept job to run", seconds=20)
        stop.set()
        await serving
    finally:
        stop.set()
        await queue.close()
    assert executed == [7]


async def test_a_job_running_longer_than_stale_after_is_beaten_and_never_stuck() -> None:
    require_service(redis_up(), "Redis unreachable at 127.0.0.1:6379")
    settings = JobsSettings(
        queue_name=f"test-{uuid.uuid4().hex[:10]}", stale_after=1, heartbeat=0.2
    )
    queue = RedisQueue(REDIS, lambda _: asyncio.sleep(2.5), settings=settings)
    try:
        await queue.enqueue(8)
        job = await _take(queue)
        running = asyncio.create_task(queue._job({"job": job}, run_id=8))
        seen = []
        for _ in range(4):  # past stale_after, twice over
            await asyncio.sleep(0.5)
            stored = await queue.queue.job(job.key)
            assert stored is not None
            seen.append(stored.stuck)
        await running
    finally:
        await queue.close()
    assert seen == [False] * 4
