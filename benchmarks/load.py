"""Load (and faults) on the scale-out topology: PostgreSQL, ``serve --workers 2``, a Redis fleet.

Run: ``.venv/bin/python benchmarks/load.py [--calls 10000] [--clients 64] [--executions 500]
[--scheduled 50] [--turns 20] [--faults]``

One command starts, on loopback:

- a fresh PostgreSQL database (on the server at 127.0.0.1:5432; with ``--faults``, a private
  server of its own on another port, started with ``initdb``/``pg_ctl``, because it is restarted)
  and Redis (127.0.0.1:6379 with a queue name of its own; with ``--faults`` a private
  ``redis-server`` with an append-only file);
- ``masterai serve --workers 2`` (API only: ``MASTERAI_JOBS__SCHEDULER=false``) and two
  ``masterai worker --queue redis://...`` processes (scheduler, script runs, code executions);

and drives them over HTTP from this process:

1. the baseline: the same audited ``clock.get_time`` call made in process
   (``Platform.call``) with ``--clients`` at once, on the same database;
2. ``--calls`` audited tool calls (``POST /api/v1/tools/clock``) from ``--clients`` clients;
3. mixed, all at once: ``--executions`` ``code.execute_code`` calls (run by the fleet),
   ``--turns`` agent turns (``POST /api/v1/chat``; a scripted model plans one read-only clock
   step, auto-approved, then answers), ``--scheduled`` runs of a script scheduled every minute
   (the scheduler catches up that many ticks at once; each runs in a sandbox on a worker), and
   a quarter of ``--calls`` more tool calls. With ``--faults``, during this phase one worker is
   killed (SIGKILL), PostgreSQL is restarted and then Redis.

It prints throughput and p50/p95/p99 per kind, errors by kind, and checks: every call that
answered 200 has exactly one audit record and no record is duplicated, ``masterai audit
verify`` passes, every scheduled tick has one run, which finished, with one ``script.*``
event, and no run is left queued or running. It exits 1 when a check fails. The serve and
worker processes' error output is kept in a directory the report names (``process logs``).

The load generator shares the cores with the servers and workers, so on a small machine the
throughput is a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import platform as host
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

# Run as a script, the benchmarks' http.py and csv.py would shadow the standard library's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

MASTERAI = str(Path(sys.executable).with_name("masterai"))
SHARED_POSTGRES = os.environ.get(
    "MASTERAI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SHARED_REDIS = "redis://127.0.0.1:6379/0"
CLOCK = {"operation": "get_time"}
SCRIPT = "load-tick"


# --- services ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"nothing listens on 127.0.0.1:{port} after {seconds} s"
                ) from None
            time.sleep(0.05)


@dataclass
class Services:
    """The PostgreSQL database and Redis a run uses, and how to restart them (own ones only)."""

    database_url: str
    redis_url: str
    restart_postgres: Callable[[], None] | None = None
    restart_redis: Callable[[], None] | None = None


@contextlib.contextmanager
def shared_services(queue_db: int = 0) -> Iterator[Services]:
    """A fresh database on the shared server (dropped afterwards) and the shared Redis."""
    admin_url = sa.engine.make_url(SHARED_POSTGRES).set(drivername="postgresql+psycopg")
    name = f"masterai_load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        yield Services(database_url=url, redis_url=SHARED_REDIS)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def own_services(tmp: Path) -> Iterator[Services]:
    """A private PostgreSQL server and ``redis-server`` (restartable), stopped afterwards."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins or shutil.which("redis-server") is None:
        raise RuntimeError("--faults needs PostgreSQL's server binaries and redis-server")
    pg_bin = Path(bins[-1])
    pg_dir = Path(tempfile.mkdtemp(prefix="masterai-pg-"))  # reachable by the postgres user
    pg_dir.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(pg_dir, "postgres")
    pg_port, redis_port = free_port(), free_port()
    subprocess.run(
        _as_postgres(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(pg_dir / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {pg_port} -k {pg_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(pg_bin / "pg_ctl"), "-D", str(pg_dir / "data"), "-l", str(pg_dir / "log")]
    subprocess.run(_as_postgres([*pg_ctl, "-o", options, "-w", "start"]), check=True,
                   capture_output=True)  # fmt: skip

    redis_dir = tmp / "redis"
    redis_dir.mkdir()
    redis_argv = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                  "--dir", str(redis_dir), "--appendonly", "yes", "--appendfsync", "always",
                  "--save", ""]  # fmt: skip
    redis: list[subprocess.Popen[bytes]] = []

    def start_redis() -> None:
        redis.append(subprocess.Popen(redis_argv, stdout=subprocess.DEVNULL))
        _wait_port(redis_port)

    def restart_redis() -> None:
        redis[-1].terminate()  # SIGTERM: Redis flushes its append-only file, then exits
        redis[-1].wait(30)
        start_redis()

    def restart_postgres() -> None:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "-w", "restart"]), check=True,
                       capture_output=True)  # fmt: skip

    start_redis()
    try:
        yield Services(
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/postgres",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            restart_postgres=restart_postgres,
            restart_redis=restart_redis,
        )
    finally:
        redis[-1].terminate()
        redis[-1].wait(30)
        subprocess.run(_as_postgres([*pg_ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(pg_dir, ignore_errors=True)


# --- processes ------------------------------------------------------------------------------


@dataclass
class Fleet:
    """The processes of a run: ``serve`` and the workers."""

    env: dict[str, str]
    logs: Path
    """Where each process's error output goes (``serve.log``, ``worker-N.log``)."""
    base: str = ""
    serve: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _log(self, name: str) -> IO[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        return (self.logs / f"{name}.log").open("ab")

    def start(self, workers: int) -> None:
        port = free_port()
        serve_env = {**self.env, "MASTERAI_JOBS__SCHEDULER": "false"}
        with self._log("serve") as log:
            self.serve = subprocess.Popen(
                [MASTERAI, "serve", "--port", str(port), "--workers", "2"],
                env=serve_env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(workers):
            self.add_worker()
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            if self.serve.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("masterai serve did not become ready")
            time.sleep(0.2)

    def add_worker(self) -> None:
        with self._log(f"worker-{len(self.workers) + 1}") as log:
            self.workers.append(
                subprocess.Popen(
                    [MASTERAI, "worker", "--queue", self.env["MASTERAI_JOBS__QUEUE"]],
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )

    def kill_worker(self) -> None:
        victim = self.workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)

    def stop(self) -> None:
        processes = [p for p in [self.serve, *self.workers] if p is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


# --- driving ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one kind of request did."""

    kind: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    audit_ids: list[int] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    def row(self) -> str:
        rate = self.ok / self.elapsed if self.elapsed else 0.0
        errors = sum(self.errors.values())
        return (
            f"{self.kind:<40}{self.ok:>7}{errors:>7}{rate:>9.1f}"
            f"{self.percentile(0.5):>9.1f}{self.percentile(0.95):>9.1f}{self.percentile(0.99):>9.1f}"
        )


Request = Callable[[aiohttp.ClientSession], Awaitable[int | None]]
"""Makes one request; the audit id it reported (None: none to check). Raises ``Failed``."""


class Failed(Exception):
    """A request that did not succeed, with the kind of failure (``http 503 unavailable``)."""


async def drive(
    tally: Tally, client: aiohttp.ClientSession, request: Request, total: int, clients: int
) -> None:
    """``total`` requests from ``clients`` concurrent clients into ``tally``."""
    remaining = iter(range(total))

    async def one_client() -> None:
        for _ in remaining:
            started = time.perf_counter()
            try:
                audit_id = await request(client)
            except Failed as e:
                tally.errors[str(e)] += 1
                continue
            except (aiohttp.ClientError, TimeoutError) as e:
                tally.errors[f"transport {type(e).__name__}"] += 1
                continue
            tally.latencies.append(time.perf_counter() - started)
            if audit_id is not None:
                tally.audit_ids.append(audit_id)

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    tally.elapsed = time.perf_counter() - started


async def _failure(response: aiohttp.ClientResponse) -> Failed:
    """A clear failure names its status in a JSON error body; anything else is unclear."""
    try:
        status = json.loads(await response.read())["error"]["status"]
    except (ValueError, KeyError, TypeError):
        return Failed(f"http {response.status} UNCLEAR")
    return Failed(f"http {response.status} {status}")


async def tool_call(client: aiohttp.ClientSession) -> int | None:
    async with client.post("/api/v1/tools/clock", json=CLOCK) as response:
        if response.status != 200:
            raise await _failure(response)
        return int(json.loads(await response.read())["audit_id"])


def execution(counter: Iterator[int]) -> Request:
    async def execute(client: aiohttp.ClientSession) -> int | None:
        n = next(counter)
        body = {"operation": "execute_code", "language": "python", "code": f"print({n} * {n})"}
        async with client.post("/api/v1/tools/code", json=body) as response:
            if response.status != 200:
                raise await _failure(response)
            if json.loads(await response.read())["data"]["result"]["output"] != f"{n * n}\n":
                raise Failed("wrong output")
        return None

    return execute


async def agent_turn(client: aiohttp.ClientSession) -> int | None:
    async with client.post("/api/v1/chat", json={"message": "time?"}) as response:
        if response.status != 200:
            raise await _failure(response)
        body = (await response.read()).decode()
    if "event: error" in body:  # the stream's last event says what went wrong
        error = json.loads(body.rsplit("event: error", 1)[1].split("data:", 1)[1].split("\n")[0])
        raise Failed(f"turn error {error['error']['status']}")
    if "event: done" not in body:
        raise Failed("turn without done UNCLEAR")
    return None


# --- set-up and checks ----------------------------------------------------------------------


def environment(tmp: Path, services: Services, queue_name: str, turns: int) -> dict[str, str]:
    scripted = tmp / "scripted"
    scripted.mkdir()
    plan = {
        "summary": "read the clock",
        "steps": [
            {"tool": "clock", "operation": "get_time", "arguments": {}, "purpose": "know the time"}
        ],
    }
    # Each serve process keeps one scripted model, whose steps are used up in order: one
    # (plan, answer) pair per turn, turns one at a time (see run_load).
    turn = [
        {"text": "", "tool_calls": [{"name": "propose_plan", "arguments": plan}]},
        {"text": "It is now [1]."},
    ]
    (scripted / "turn.json").write_text(json.dumps(turn * turns))
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-load-"))
    run_dir.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTERAI_")}
    env.update({
        "MASTERAI_HOME": str(tmp / "home"),
        "MASTERAI_DATABASE_URL": services.database_url,
        "MASTERAI_JOBS__QUEUE": services.redis_url,
        "MASTERAI_JOBS__QUEUE_NAME": queue_name,
        "MASTERAI_JOBS__TICK": "0.5",
        "MASTERAI_JOBS__LEASE_SECONDS": "3",
        "MASTERAI_JOBS__HEARTBEAT": "0.5",
        "MASTERAI_JOBS__STALE_AFTER": "4",
        "MASTERAI_SANDBOX__BACKEND": "bubblewrap",
        "MASTERAI_SANDBOX__RUN_DIR": str(run_dir),
        "MASTERAI_SANDBOX__QUEUE_SIZE": "1000",
        "MASTERAI_LLM__MODEL": "scripted:turn.json",
        "MASTERAI_LLM__SCRIPTED_DIR": str(scripted),
        "MASTERAI_AGENT__AUTO_APPROVE_READ_ONLY": "true",
        "MASTERAI_INTEGRATIONS__DISPATCH": "false",
        "MASTERAI_AIDEV__FINE_TUNE_TRACKER": "false",
    })  # fmt: skip
    return env


def create_ticking_script(base: str, token: str, ticks: int, seconds: float) -> None:
    """A script due every minute (running ``seconds``) that catches up ``ticks`` missed ticks."""
    code = f"import time\ntime.sleep({seconds})\nprint('tick')"
    args = {
        "operation": "create_script", "name": SCRIPT, "language": "python", "code": code,
        "schedule": "* * * * *", "catchup": "all", "max_catchup": ticks, "concurrency": "allow",
        "misfire_grace": 1,
    }  # fmt: skip
    response = httpx.post(
        f"{base}/api/v1/tools/code",
        json=args,
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text


def miss_ticks(database_url: str) -> None:
    """Make the schedule two hours late: the next pass catches up ``max_catchup`` ticks."""
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE script_schedules SET checked_until = :t"),
            {"t": datetime.now(UTC) - timedelta(hours=2)},
        )
    engine.dispose()


def runs_state(database_url: str) -> dict[str, Any]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, count(*) FROM script_runs GROUP BY status"))
        statuses = {str(row[0]): int(row[1]) for row in rows}
        ticks = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT (schedule_id, scheduled_for)) "
                    "FROM script_runs WHERE scheduled_for IS NOT NULL")
        ).one()  # fmt: skip
        events = conn.execute(
            sa.text("SELECT count(*) FROM events WHERE type LIKE 'script.%'")
        ).scalar_one()
        retried = conn.execute(sa.text("SELECT attempts FROM script_runs")).scalars().all()
        audit = conn.execute(sa.text("SELECT id, tool FROM audit_log")).all()
        # What a run left open looks like: read after a failure.
        unfinished = conn.execute(
            sa.text("SELECT id, status, scheduled_for, queued_at, started_at, heartbeat_at, "
                    "worker, attempts FROM script_runs WHERE status IN ('queued', 'running')")
        ).all()  # fmt: skip
    engine.dispose()
    return {
        "statuses": statuses, "runs": ticks[0], "distinct_ticks": ticks[1], "events": events,
        "retried": sum(1 for a in retried if a and len(a) > 1), "audit": audit,
        "unfinished": [tuple(str(v) for v in row) for row in unfinished],
    }  # fmt: skip


async def wait_runs_settled(database_url: str, at_least: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        state = await asyncio.to_thread(runs_state, database_url)
        open_runs = state["statuses"].get("queued", 0) + state["statuses"].get("running", 0)
        if (state["runs"] >= at_least and open_runs == 0) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.5)


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LoadPlan:
    calls: int = 10_000
    clients: int = 64
    executions: int = 500
    scheduled: int = 50
    turns: int = 20
    faults: bool = False
    baseline: bool = True


@dataclass
class LoadReport:
    tallies: list[Tally]
    checks: dict[str, bool]
    notes: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


async def in_process_baseline(env: dict[str, str], total: int, clients: int) -> Tally:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from masterai.app import Platform

        platform = Platform()
        context = platform.context(platform.principal(), client_address="load")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    tally = Tally("in process clock.get_time (baseline)")

    async def call(_: Any) -> int | None:
        result = await platform.call("clock", CLOCK, context)
        if not result.ok:
            raise Failed(result.status)
        return result.audit_id

    await drive(tally, None, call, min(total, 50), clients)  # type: ignore[arg-type]
    tally = Tally(tally.kind)
    await drive(tally, None, call, total, clients)  # type: ignore[arg-type]
    platform.close()
    return tally


def running_on(database_url: str, pid: int) -> bool:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT count(*) FROM script_runs WHERE status = 'running' AND worker LIKE :w"),
            {"w": f"%:{pid}"},
        ).scalar_one()
    engine.dispose()
    return bool(found)


async def faults(fleet: Fleet, services: Services, notes: dict[str, Any]) -> None:
    """Kill a worker running a script, then restart PostgreSQL, then Redis (mixed phase)."""
    victim = fleet.workers[0].pid
    async with asyncio.timeout(30):
        while not await asyncio.to_thread(running_on, services.database_url, victim):
            await asyncio.sleep(0.1)
    fleet.kill_worker()
    notes["fault: worker killed"] = time.strftime("%H:%M:%S")
    await asyncio.sleep(1.0)
    assert services.restart_postgres is not None and services.restart_redis is not None
    await asyncio.to_thread(services.restart_postgres)
    notes["fault: PostgreSQL restarted"] = time.strftime("%H:%M:%S")
    await asyncio.sleep(1.0)
    await asyncio.to_thread(services.restart_redis)
    notes["fault: Redis restarted"] = time.strftime("%H:%M:%S")


async def run_load(
    plan: LoadPlan, services: Services, tmp: Path, *, logs: Path | None = None
) -> LoadReport:
    """Start the topology on ``services``, drive it by ``plan``, check it; stop everything.

    The processes' error output goes to ``logs`` (default ``tmp/logs``).
    """
    env = environment(tmp, services, f"load-{uuid.uuid4().hex[:8]}", plan.turns)
    init = subprocess.run([MASTERAI, "init", "--json"], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    token = json.loads(init.stdout)["token"]
    tallies: list[Tally] = []
    notes: dict[str, Any] = {}
    if plan.baseline:
        tallies.append(await in_process_baseline(env, min(plan.calls, 2000), plan.clients))
    fleet = Fleet(env, logs=logs or tmp / "logs")
    notes["process logs"] = str(fleet.logs)
    begun = time.perf_counter()
    try:
        await asyncio.to_thread(fleet.start, 2)
        headers = {"authorization": f"Bearer {token}"}
        # aiohttp rather than httpx: httpx spent about 8 ms of CPU per request here, more
        # than the server, on the same 2 cores. Idle connections are dropped before
        # uvicorn's 5 s keep-alive ends, so a request never goes out on a closing connection.
        connector = aiohttp.TCPConnector(limit=plan.clients + 32, keepalive_timeout=3.0)
        async with aiohttp.ClientSession(
            base_url=fleet.base,
            headers=headers,
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=120),
        ) as client:
            seconds = 2.0 if plan.faults else 0.0  # long enough for a kill to hit a run
            await asyncio.to_thread(
                create_ticking_script, fleet.base, token, plan.scheduled, seconds
            )
            await drive(Tally("warm-up"), client, tool_call, min(100, plan.calls), 8)
            notes["ready after s"] = round(time.perf_counter() - begun, 1)
            calls = Tally("HTTP tool calls (audited)")
            await drive(calls, client, tool_call, plan.calls, plan.clients)
            tallies.append(calls)

            mixed_calls = Tally("mixed: HTTP tool calls")
            executions = Tally("mixed: code executions (fleet)")
            turns = Tally("mixed: agent turns")
            counter = iter(range(1, 10**9))
            work = [
                drive(mixed_calls, client, tool_call, plan.calls // 4, plan.clients // 2),
                drive(executions, client, execution(counter), plan.executions, 16),
                drive(turns, client, agent_turn, plan.turns, 1),
            ]
            started = time.perf_counter()
            await asyncio.to_thread(miss_ticks, services.database_url)
            if plan.faults:
                work.append(faults(fleet, services, notes))
            await asyncio.gather(*work)
            state = await wait_runs_settled(
                services.database_url, plan.scheduled, 90 if plan.faults else 600
            )
            notes["mixed phase s"] = round(time.perf_counter() - started, 1)
            scheduled = Tally("mixed: scheduled runs (until all ended)")
            scheduled.latencies = [0.0] * state["statuses"].get("succeeded", 0)
            scheduled.elapsed = time.perf_counter() - started
            scheduled.errors.update(
                {s: n for s, n in state["statuses"].items() if s != "succeeded"}
            )
            tallies += [mixed_calls, executions, turns, scheduled]
    finally:
        await asyncio.to_thread(fleet.stop)
    verify = subprocess.run([MASTERAI, "audit", "verify"], env=env, capture_output=True, text=True)
    state = runs_state(services.database_url)
    reported = [i for t in tallies for i in t.audit_ids]
    stored = Counter(i for i, _ in state["audit"])
    clock_stored = sum(1 for _, tool in state["audit"] if tool == "clock")
    checks = {
        "audit verify ok": verify.returncode == 0,
        "every 200 answer has its own audit record": (
            len(set(reported)) == len(reported) and all(stored[i] == 1 for i in reported)
        ),
        # faults may leave a record for a call whose answer was lost; never the reverse
        "no audit record of a call is lost": clock_stored >= len(reported),
        "every scheduled tick has one run": state["runs"] == state["distinct_ticks"]
        and state["runs"] >= plan.scheduled,
        "no run left queued or running": not (
            state["statuses"].get("queued") or state["statuses"].get("running")
        ),
        "each finished run emitted one event": state["events"]
        == sum(n for s, n in state["statuses"].items() if s in ("succeeded", "failed")),
        "every failure was a clear error": not any(
            "UNCLEAR" in e or e.startswith("transport") for t in tallies for e in t.errors
        ),
    }
    if not plan.faults:
        checks["no errors without faults"] = not any(t.errors for t in tallies)
    notes.update({
        "runs by status": state["statuses"], "runs retried": state["retried"],
        "audit records": len(state["audit"]), "audit verify": verify.stdout.strip()[-200:],
    })  # fmt: skip
    if state["unfinished"]:
        notes |= {"runs left open": state["unfinished"],
                  "checked at": datetime.now(UTC).isoformat()}  # fmt: skip
    return LoadReport(tallies=tallies, checks=checks, notes=notes)


def print_report(report: LoadReport, plan: LoadPlan) -> None:
    print(
        f"# load, Python {host.python_version()} on {host.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, PostgreSQL + Redis, serve --workers 2 + 2 "
        f"workers, {plan.clients} clients{', FAULTS' if plan.faults else ''}"
    )
    print(f"{'kind':<40}{'ok':>7}{'errors':>7}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for tally in report.tallies:
        print(tally.row())
    baseline = next((t for t in report.tallies if "baseline" in t.kind), None)
    http = next(t for t in report.tallies if t.kind == "HTTP tool calls (audited)")
    if baseline is not None and baseline.elapsed and http.elapsed:
        ratio = (http.ok / http.elapsed) / (baseline.ok / baseline.elapsed)
        print(f"HTTP / in-process throughput: {ratio:.2f}x")
    for tally in report.tallies:
        for error, n in tally.errors.most_common():
            print(f"  {tally.kind}: {n} x {error}")
    for name, value in report.notes.items():
        print(f"  {name}: {value}")
    for name, passed in report.checks.items():
        print(f"check: {name}: {'ok' if passed else 'FAILED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--scheduled", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--faults", action="store_true", help="kill a worker, restart PG and Redis")
    args = parser.parse_args()
    plan = LoadPlan(calls=args.calls, clients=args.clients, executions=args.executions,
                    scheduled=args.scheduled, turns=args.turns, faults=args.faults)  # fmt: skip
    logs = Path(tempfile.mkdtemp(prefix="masterai-load-logs-"))  # kept: read them after
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        services = own_services(tmp) if plan.faults else shared_services()
        with services as ready:
            report = asyncio.run(run_load(plan, ready, tmp, logs=logs))
    print_report(report, plan)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
