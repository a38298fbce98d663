"""Console login, sessions, CSRF and the login rate limit, in-process over httpx."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from conftest import (
    client_for,
    csrf_of,
    issue_link,
    issue_token,
    log_in,
    make_platform,
    post_login,
)
from masterai.api.console.sessions import LOGIN_TOOL, SESSION_COOKIE, SessionStore
from masterai.app import Platform
from masterai.security import system_principal
from masterai.store.models import AuditRecord, ConsoleSession, LoginLink, utcnow


def sessions(platform: Platform) -> list[ConsoleSession]:
    with platform.database.session() as s:
        return list(s.scalars(select(ConsoleSession)).all())


def login_refusals(platform: Platform) -> list[AuditRecord]:
    with platform.database.session() as s:
        query = select(AuditRecord).where(AuditRecord.tool == LOGIN_TOOL)
        return list(s.scalars(query).all())


async def test_a_token_logs_in_with_a_server_side_session_whose_secret_is_stored_hashed(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    answer = await post_login(client, tokens["admin"])
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    secret = client.cookies[SESSION_COOKIE]
    (row,) = sessions(platform)
    assert row.id == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {row.id, row.csrf_token}
    page = await client.get("/tools")
    assert page.status_code == 200 and "admin" in page.text


async def test_the_session_cookie_is_httponly_samesite_strict_and_not_secure_by_default(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    answer = await post_login(client, tokens["admin"])
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags


async def test_secure_cookies_marks_the_session_cookie_secure(tmp_path: Path) -> None:
    platform = await asyncio.to_thread(make_platform, tmp_path / "home", secure_cookies=True)
    token = await asyncio.to_thread(issue_token, platform, "admin")
    async with client_for(platform, base_url="https://test") as client:  # TLS: Secure is sent
        answer = await post_login(client, token)
    platform.close()
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "secure" in {part.strip().lower() for part in session.split(";")}


async def test_a_bad_token_is_refused_audited_and_sets_no_session(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    answer = await post_login(client, "mai_not-a-token-at-all-0000000000")
    assert answer.status_code == 401
    assert "unknown, revoked or expired" in answer.text
    assert SESSION_COOKIE not in client.cookies
    (record,) = login_refusals(platform)
    assert (record.status, record.client_address) == ("denied", "203.0.113.9")
    assert "mai_not-a-token" not in str(record.params) + str(record.error)


async def test_a_login_without_the_forms_token_is_refused(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    answer = await client.post("/login", data={"token": tokens["admin"], "csrf_token": "x"})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in client.cookies


async def test_failed_logins_past_the_limit_are_refused_even_with_a_good_token(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    for _ in range(3):  # the platform allows 3 failed logins per minute
        assert (await post_login(client, "mai_wrong-token-00000000000000")).status_code == 401
    answer = await post_login(client, tokens["admin"])
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "60"
    assert SESSION_COOKIE not in client.cookies
    assert len(login_refusals(platform)) == 4


async def test_the_login_limit_counts_per_client_address(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    for _ in range(3):
        await post_login(client, "mai_wrong-token-00000000000000")
    async with client_for(platform, ("198.51.100.7", 40000)) as elsewhere:
        answer = await post_login(elsewhere, tokens["admin"])
    assert answer.status_code == 303


async def test_only_failed_logins_within_the_window_count(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    for _ in range(3):
        await post_login(client, "mai_wrong-token-00000000000000")
    store = SessionStore(platform.database, idle=timedelta(hours=1))
    assert store.failed_logins("203.0.113.9") == 3
    assert store.failed_logins("203.0.113.9", within=timedelta(seconds=0)) == 0


async def test_a_post_without_the_sessions_csrf_token_is_refused_and_runs_nothing(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    await log_in(client, tokens["admin"])
    before = platform.registry.audit_log.count()
    for data in ({"operation": "get_time"}, {"operation": "get_time", "csrf_token": "forged"}):
        answer = await client.post("/tools/clock", data=data)
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert platform.registry.audit_log.count() == before


async def test_the_csrf_token_may_come_as_the_htmx_header(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    csrf = await log_in(client, tokens["admin"])
    answer = await client.post(
        "/tools/clock",
        data={"operation": "get_time"},
        headers={"x-csrf-token": csrf, "hx-request": "true"},
    )
    assert answer.status_code == 200
    assert 'class="result ok"' in answer.text


async def test_a_session_idle_past_session_hours_ends_and_sends_the_browser_to_login(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    await log_in(client, tokens["admin"])
    with platform.database.session() as s:
        s.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    answer = await client.get("/tools")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert sessions(platform) == []


async def test_activity_moves_a_sessions_expiry_forward(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    await log_in(client, tokens["admin"])
    long_ago = utcnow() - timedelta(minutes=30)
    with platform.database.session() as s:
        later = long_ago + timedelta(hours=12)
        s.execute(update(ConsoleSession).values(last_seen_at=long_ago, expires_at=later))
    assert (await client.get("/tools")).status_code == 200
    (row,) = sessions(platform)
    assert row.expires_at > utcnow() + timedelta(hours=11, minutes=59)


async def test_an_htmx_request_without_a_session_is_told_to_go_to_login(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/tools/clock", headers={"hx-request": "true"})
    assert (answer.status_code, answer.headers["hx-redirect"]) == (401, "/login")


async def test_logout_ends_the_session_for_good(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    csrf = await log_in(client, tokens["admin"])
    secret = client.cookies[SESSION_COOKIE]
    answer = await client.post("/logout", data={"csrf_token": csrf})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert sessions(platform) == []
    client.cookies.set(SESSION_COOKIE, secret)  # a copy of the old cookie is worth nothing
    assert (await client.get("/tools")).status_code == 303


async def test_logout_needs_the_csrf_token(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    await log_in(client, tokens["admin"])
    assert (await client.post("/logout")).status_code == 403
    assert len(sessions(platform)) == 1


async def test_a_login_link_works_once_and_only_its_hash_is_stored(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    secret = await asyncio.to_thread(issue_link, platform, "vic")
    with platform.database.session() as s:
        (link,) = s.scalars(select(LoginLink)).all()
    assert link.id == hashlib.sha256(secret.encode()).hexdigest()
    shown = await client.get(f"/login/{secret}")  # showing the button does not use it up
    assert shown.status_code == 200
    answer = await client.post(f"/login/{secret}", data={"csrf_token": csrf_of(shown.text)})
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    page = await client.get("/tools")
    assert page.status_code == 200 and "vic" in page.text
    async with client_for(platform) as other:
        again = await other.get(f"/login/{secret}")
        assert again.status_code == 410
        form = await other.get("/login")  # the login form's token, to post the link anyway
        reuse = await other.post(f"/login/{secret}", data={"csrf_token": csrf_of(form.text)})
    assert reuse.status_code == 410
    assert SESSION_COOKIE not in other.cookies


async def test_an_expired_login_link_is_refused(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    secret = await asyncio.to_thread(issue_link, platform, "admin")
    with platform.database.session() as s:
        s.execute(update(LoginLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    shown = await client.get(f"/login/{secret}")
    assert shown.status_code == 410
    form = await client.get("/login")
    answer = await client.post(f"/login/{secret}", data={"csrf_token": csrf_of(form.text)})
    assert answer.status_code == 410
    assert len(login_refusals(platform)) == 1


async def test_a_deactivated_user_loses_the_session(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    await log_in(client, tokens["vic"])
    root = platform.context(system_principal("setup"))
    params = {"operation": "update_user", "name": "vic", "active": False}
    assert (await platform.call("admin", params, root)).ok
    assert (await client.get("/tools")).status_code == 303
    assert sessions(platform) == []
