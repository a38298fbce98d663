"""A real ``masterai serve`` process on a free loopback port: calls, workers, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serve_support import MASTERAI, free_port, wait_until_up


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """An initialised home; the admin's token."""
    env = {**os.environ, "MASTERAI_HOME": str(tmp_path / "home")}
    env.pop("MASTERAI_DATABASE_URL", None)
    out = subprocess.run(
        [MASTERAI, "init", "--json"], env=env, check=True, capture_output=True, text=True
    )
    yield env, json.loads(out.stdout)["token"]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_audited_calls_and_stops_cleanly_on_ctrl_c(
    home: tuple[dict[str, str], str], workers: int, tmp_path: Path
) -> None:
    env, token = home
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [MASTERAI, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, log)
        auth = {"authorization": f"Bearer {token}"}
        for _ in range(4):
            answer = httpx.post(
                f"{base}/api/v1/tools/clock", json={"operation": "get_time"}, headers=auth
            )
            assert answer.status_code == 200 and answer.json()["ok"] is True
        found = httpx.get(f"{base}/api/v1/audit", params={"tool": "clock"}, headers=auth)
        records = found.json()["data"]["result"]
        assert len(records) == 4
        assert {r["client_address"] for r in records} == {"127.0.0.1"}
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()
