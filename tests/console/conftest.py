"""Fixtures of the console tests: an app in-process over a small platform, and logging in."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from masterai.api import create_app
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import ApiSettings, Settings
from serve_support import MASTERAI, free_port, wait_until_up

BROWSER = ("203.0.113.9", 50000)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_platform(home: Path, *, demo: bool = False, **api: object) -> Platform:
    """Two companies (with demo data and configurations if ``demo``), admin and vic."""
    platform = Platform(Settings(home=home, api=ApiSettings(**api)))  # type: ignore[arg-type]
    root = platform.context(system_principal("setup"), approver=approve_all)
    companies = [
        {"operation": "add_company", "company_id": c, "company_name": c.title()}
        for c in ("acme-retail", "globex-bank")
    ]
    seed = {"operation": "seed_demo", "demo_companies": 2, "conversations": 16, "days": 7}
    for params in (
        *([seed] if demo else companies),
        {"operation": "add_user", "name": "admin", "role": "super_admin"},
        {
            "operation": "add_user",
            "name": "vic",
            "role": "viewer",
            "companies": [{"company_id": "acme-retail"}],
        },
    ):
        result = platform.call_sync("admin", params, root)
        assert result.ok, result.error
    return platform


def issue_token(platform: Platform, name: str) -> str:
    root = platform.context(system_principal("setup"))
    result = platform.call_sync("admin", {"operation": "issue_token", "name": name}, root)
    return str(result.data["result"]["token"])


def issue_link(platform: Platform, name: str, minutes: int = 15) -> str:
    root = platform.context(system_principal("setup"))
    params = {"operation": "issue_login_link", "name": name, "valid_minutes": minutes}
    result = platform.call_sync("admin", params, root)
    assert result.ok, result.error
    return str(result.data["result"]["secret"])


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return make_platform(tmp_path / "home", login_attempts_per_minute=3)


@pytest.fixture
def tokens(platform: Platform) -> dict[str, str]:
    return {name: issue_token(platform, name) for name in ("admin", "vic")}


def client_for(
    platform: Platform, address: tuple[str, int] = BROWSER, base_url: str = "http://test"
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(platform), client=address)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(platform) as client:
        yield client
    platform.close()


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def post_login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post("/login", data={"csrf_token": csrf_of(form.text), "token": token})


async def log_in(client: httpx.AsyncClient, token: str) -> str:
    """Log in with ``token``; the session's CSRF token."""
    answer = await post_login(client, token)
    assert answer.status_code == 303, answer.text
    page = await client.get("/tools")
    assert page.status_code == 200
    return csrf_of(page.text)


@contextmanager
def seeded_serve(root: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``masterai init`` and a demo seed in ``root``, then ``masterai serve`` on a free port.

    Yields the base URL and the admin's token; stops the server with SIGINT and fails if its
    log shows a traceback.
    """

    def run(*args: str) -> str:
        done = subprocess.run(
            [MASTERAI, *args], env=env, check=True, capture_output=True, text=True, cwd=root
        )
        return done.stdout

    token = json.loads(run("init", "--json"))["token"]
    run("demo", "seed", "--companies", "2", "--conversations", "80", "--days", "14")
    port = free_port()
    log = root / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [MASTERAI, "serve", "--port", str(port)],
            env=env,
            cwd=root,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, log)
        yield base, token
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert "Traceback" not in log.read_text(), log.read_text()
