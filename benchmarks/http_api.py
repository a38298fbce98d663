"""Benchmark the HTTP API: an audited ``clock.get_time`` over HTTP against the in-process call.

Run: ``.venv/bin/python benchmarks/http_api.py [--requests 2000] [--concurrency 8] [--workers 1,2]``

A fresh ``MASTERAI_HOME`` (SQLite) is initialised with ``masterai init``; then, for each
worker count, a real ``masterai serve`` is started on a free loopback port and driven by a
load generator in this process (``aiohttp``, one connection per concurrent client,
keep-alive; httpx cost more CPU per request than the server): first one client in turn
(latency), then ``--concurrency`` clients (throughput). Every request is a
bearer-authenticated ``POST /api/v1/tools/clock`` that the registry permission-checks,
validates and audits (one committed, hash-chained write).

The baseline, measured in the same run on the same database, is the same call made in
process: ``Platform.call("clock", ...)`` with the same principal, in turn and
``--concurrency`` at once. The ratio says what HTTP (uvicorn, FastAPI, authentication of the
token, JSON) adds. The load generator shares the machine's cores with the server, so on a
small machine the throughput figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

MASTERAI = str(Path(sys.executable).with_name("masterai"))
PARAMS = {"operation": "get_time"}


@dataclass(frozen=True)
class Figures:
    what: str
    n: int
    p50_ms: float
    p99_ms: float
    per_second: float


def figures(what: str, latencies: list[float], elapsed: float) -> Figures:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Figures(
        what=what,
        n=len(latencies),
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=p99 * 1000,
        per_second=len(latencies) / elapsed,
    )


async def drive(
    call: Callable[[], Awaitable[None]], total: int, concurrency: int
) -> tuple[list[float], float]:
    """``total`` calls from ``concurrency`` clients; each call's latency, and the wall time."""
    latencies: list[float] = []
    remaining = iter(range(total))

    async def client() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(env: dict[str, str], workers: int) -> Iterator[str]:
    """``masterai serve --workers N`` on a free loopback port until the block ends (Ctrl-C)."""
    port = free_port()
    process = subprocess.Popen(
        [MASTERAI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"masterai serve exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("masterai serve did not become ready within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


async def over_http(
    base: str, token: str, total: int, concurrency: int, workers: int
) -> list[Figures]:
    headers = {"authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(
        base_url=base,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=60),
    ) as client:

        async def call() -> None:
            async with client.post("/api/v1/tools/clock", json=PARAMS) as response:
                body = await response.read()
                assert response.status == 200, body

        await drive(call, 50, concurrency)  # warm-up: connections, imports in every worker
        rows = []
        for clients in (1, concurrency):
            n = total // 4 if clients == 1 else total
            latencies, elapsed = await drive(call, n, clients)
            label = f"HTTP, {workers} worker(s), {clients} client(s)"
            rows.append(figures(label, latencies, elapsed))
        return rows


async def in_process(home: Path, total: int, concurrency: int) -> list[Figures]:
    os.environ["MASTERAI_HOME"] = str(home)
    from masterai.app import Platform

    platform_ = Platform()
    context = platform_.context(platform_.principal(), client_address="bench")

    async def call() -> None:
        result = await platform_.call("clock", PARAMS, context)
        assert result.ok, result.error

    await drive(call, 50, 1)
    rows = []
    for clients in (1, concurrency):
        n = total // 4 if clients == 1 else total
        latencies, elapsed = await drive(call, n, clients)
        rows.append(figures(f"in process (baseline), {clients} at once", latencies, elapsed))
    platform_.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MASTERAI_")}
        env["MASTERAI_HOME"] = str(home)
        init = subprocess.run(
            [MASTERAI, "init", "--json"], env=env, check=True, capture_output=True, text=True
        )
        token = json.loads(init.stdout)["token"]
        rows = asyncio.run(in_process(home, args.requests, args.concurrency))
        for workers in worker_counts:
            with served(env, workers) as base:
                rows += asyncio.run(
                    over_http(base, token, args.requests, args.concurrency, workers)
                )
    print(
        f"# HTTP benchmark, Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, SQLite, {args.requests} requests, {args.concurrency} clients"
    )
    print(f"{'what':<44}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    for row in rows:
        print(f"{row.what:<44}{row.n:>6}{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}{row.per_second:>9.0f}")
    base_one, base_many = rows[0], rows[1]
    for row in rows[2:]:
        base = base_one if row.what.endswith(" 1 client(s)") else base_many
        print(
            f"ratio {row.what} / in process: p50 {row.p50_ms / base.p50_ms:.1f}x, "
            f"req/s {row.per_second / base.per_second:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
