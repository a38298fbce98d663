"""``masterai login-link`` prints a one-time console URL that logs in once."""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import client_for, csrf_of
from masterai.api.console.sessions import SESSION_COOKIE
from masterai.app import Platform
from masterai.cli import app
from masterai.settings import Settings

runner = CliRunner()


@pytest.fixture
def home(masterai_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(masterai_home.parent)  # no stray .env
    assert runner.invoke(app, ["init"]).exit_code == 0
    return masterai_home


def test_login_link_prints_a_url_of_the_console(home: Path) -> None:
    result = runner.invoke(app, ["login-link", "--url", "http://127.0.0.1:8000/"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/login/[A-Za-z0-9_-]{43}\n", result.stdout)


def test_login_link_for_another_user_is_refused_to_a_viewer(home: Path) -> None:
    assert runner.invoke(app, ["user", "add", "vic", "--role", "viewer"]).exit_code == 0
    result = runner.invoke(app, ["login-link", "--as", "vic"])
    assert result.exit_code == 3
    assert "may not use 'admin' tools" in result.stderr


async def test_the_printed_link_logs_in_once(home: Path) -> None:
    invoke = functools.partial(runner.invoke, app, ["login-link", "--json", "--url", "http://test"])
    result = await asyncio.to_thread(invoke)  # the CLI runs its own event loop
    assert result.exit_code == 0, result.output
    url = re.search(r'"url": "http://test(/login/[^"]+)"', result.stdout)
    assert url
    platform = Platform(Settings(home=home))
    async with client_for(platform) as client:
        shown = await client.get(url.group(1))
        answer = await client.post(url.group(1), data={"csrf_token": csrf_of(shown.text)})
        assert answer.status_code == 303 and SESSION_COOKIE in client.cookies
        assert (await client.get("/tools")).status_code == 200
    platform.close()
