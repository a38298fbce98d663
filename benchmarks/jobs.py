"""Benchmark scheduled runs: dispatch latency, and executions per second in-process vs Redis.

Run: ``.venv/bin/python benchmarks/jobs.py [--runs 30] [--rounds 5]`` (Redis at
127.0.0.1:6379 and bubblewrap needed; the Redis rows are left out when Redis is down).

Everything goes through the real registry and sandbox, in one run of this script:

- dispatch latency: a schedule's tick becomes due (a manual clock crosses it); the time from
  the scheduler pass to the run being claimed by an in-process worker, and to it finishing
  (a ``print(1)`` Python script), median of ``--rounds``;
- throughput: ``--runs`` queued runs of the same script, executed by the in-process pool
  (2 workers), then by a Redis fleet of 1 and of 2 ``masterai worker --queue`` processes
  (2 workers each); runs per second from the first enqueue to the last run finished.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from masterai.app import Platform
from masterai.jobs import InProcessQueue, ManualClock, RunExecutor, Scheduler
from masterai.jobs.redis import RedisQueue
from masterai.registry import ExecutionContext
from masterai.security import UserDirectory, load_principal
from masterai.services.scripts import ScriptService
from masterai.settings import JobsSettings, SandboxSettings, Settings
from masterai.store.models.scripts import ScriptRun, ScriptSchedule

REDIS = "redis://127.0.0.1:6379/0"
MASTERAI = str(Path(sys.executable).with_name("masterai"))


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


async def setup(home: Path, run_dir: Path, queue_name: str) -> tuple[Platform, int]:
    settings = Settings(
        home=home,
        sandbox=SandboxSettings(backend="bubblewrap", run_dir=run_dir),
        jobs=JobsSettings(queue_name=queue_name),
    )
    platform = Platform(settings)
    UserDirectory(platform.database).add_user("admin", "super_admin")
    context = ExecutionContext(principal=load_principal(platform.database, "admin"))
    args = {
        "operation": "create_script",
        "name": "bench",
        "language": "python",
        "code": "print(1)",
        "schedule": "0 2 * * *",
        "concurrency": "allow",
    }
    result = await platform.call("code", args, context)
    assert result.ok, result.error
    with platform.database.session() as session:
        return platform, session.scalars(sa.select(ScriptSchedule.id)).one()


def queue_runs(platform: Platform, schedule_id: int, count: int, base: datetime) -> list[int]:
    service = ScriptService(platform.database)
    ids = [service.record_tick(schedule_id, base + timedelta(minutes=i)) for i in range(count)]
    return [i for i in ids if i is not None]


def finished(platform: Platform, ids: list[int]) -> bool:
    with platform.database.session() as session:
        done = session.scalar(
            sa.select(sa.func.count())
            .select_from(ScriptRun)
            .where(ScriptRun.id.in_(ids), ScriptRun.status.not_in(("queued", "running")))
        )
    return done == len(ids)


async def wait_for(check: object, seconds: float = 600) -> None:
    async with asyncio.timeout(seconds):
        while not await asyncio.to_thread(check):  # type: ignore[arg-type]
            await asyncio.sleep(0.02)


async def dispatch_latency(
    platform: Platform, schedule_id: int, rounds: int
) -> tuple[float, float]:
    database = platform.database
    service = ScriptService(database)
    queue = InProcessQueue(RunExecutor(database, platform.call, service), workers=2)
    stop = asyncio.Event()
    serving = asyncio.create_task(queue.run(stop))
    claimed, done = [], []
    start = datetime(2030, 1, 1, 1, 59, tzinfo=UTC)
    for r in range(rounds):
        clock = ManualClock(start + timedelta(days=r))
        with database.session() as session:
            session.execute(sa.update(ScriptSchedule).values(checked_until=clock(), enabled=True))
        clock.advance(timedelta(minutes=2))
        scheduler = Scheduler(database, queue, JobsSettings(), holder="bench", clock=clock)
        t0 = time.perf_counter()
        report = await scheduler.run_pass()
        run_id = report.queued[0]

        def started(run_id: int = run_id) -> bool:
            with database.session() as session:
                run = session.get(ScriptRun, run_id)
                return run is not None and run.status != "queued"

        await wait_for(started)
        claimed.append(time.perf_counter() - t0)
        await wait_for(lambda run_id=run_id: finished(platform, [run_id]))
        done.append(time.perf_counter() - t0)
    with database.session() as session:
        session.execute(sa.update(ScriptSchedule).values(enabled=False))
    stop.set()
    await serving
    return statistics.median(claimed), statistics.median(done)


async def in_process(platform: Platform, schedule_id: int, runs: int) -> float:
    database = platform.database
    queue = InProcessQueue(RunExecutor(database, platform.call, ScriptService(database)), workers=2)
    ids = queue_runs(platform, schedule_id, runs, datetime(2031, 1, 1, tzinfo=UTC))
    stop = asyncio.Event()
    t0 = time.perf_counter()
    for run_id in ids:
        await queue.enqueue(run_id)
    serving = asyncio.create_task(queue.run(stop))
    await wait_for(lambda: finished(platform, ids))
    elapsed = time.perf_counter() - t0
    stop.set()
    await serving
    return len(ids) / elapsed


async def redis_fleet(
    platform: Platform, schedule_id: int, runs: int, processes: int, env: dict[str, str], day: int
) -> float:
    workers = [
        subprocess.Popen(
            [MASTERAI, "worker", "--queue", REDIS, "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    try:
        # Warm-up: each process has started (one run per process) before timing.
        warm = queue_runs(platform, schedule_id, processes * 2, datetime(2032, 1, day, tzinfo=UTC))
        producer = RedisQueue(REDIS, lambda _: asyncio.sleep(0), settings=platform.settings.jobs)
        for run_id in warm:
            await producer.enqueue(run_id)
        await wait_for(lambda: finished(platform, warm), seconds=120)
        ids = queue_runs(platform, schedule_id, runs, datetime(2033, 1, day, tzinfo=UTC))
        t0 = time.perf_counter()
        for run_id in ids:
            await producer.enqueue(run_id)
        await wait_for(lambda: finished(platform, ids))
        elapsed = time.perf_counter() - t0
        await producer.close()
        return len(ids) / elapsed
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()


async def main(runs: int, rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="masterai-bench-jobs-"))
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-bench-run-"))
    run_dir.chmod(0o755)
    queue_name = f"bench-{uuid.uuid4().hex[:8]}"
    platform, schedule_id = await setup(tmp / "home", run_dir, queue_name)
    env = {
        **os.environ,
        "MASTERAI_HOME": str(tmp / "home"),
        "MASTERAI_SANDBOX__BACKEND": "bubblewrap",
        "MASTERAI_SANDBOX__RUN_DIR": str(run_dir),
        "MASTERAI_JOBS__QUEUE_NAME": queue_name,
        "MASTERAI_INTEGRATIONS__DISPATCH": "false",
    }
    env.pop("MASTERAI_DATABASE_URL", None)
    try:
        claimed, done = await dispatch_latency(platform, schedule_id, rounds)
        rows = [("in-process, 2 workers", await in_process(platform, schedule_id, runs))]
        if redis_up():
            for n in (1, 2):
                rate = await redis_fleet(platform, schedule_id, runs, n, env, day=n)
                rows.append((f"Redis fleet, {n} process(es) x 2 workers", rate))
        else:
            print("Redis is not reachable at 127.0.0.1:6379: the fleet rows are left out")
    finally:
        platform.close()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"{host.node()} ({os.cpu_count()} cores), SQLite, bubblewrap, {runs} runs of print(1)")
    print(f"dispatch latency (tick due -> claimed by a worker): {claimed * 1000:.1f} ms median")
    print(f"dispatch latency (tick due -> run finished):        {done * 1000:.1f} ms median")
    for name, rate in rows:
        print(f"{name:<36} {rate:6.2f} runs/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.runs, options.rounds))
