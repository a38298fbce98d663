"""The console's shared plumbing: who is logged in, CSRF, registry calls, rendering.

Every page acts through :meth:`Console.call`, a registry call as the session's user with the
browser's address as client address, so the console is permission-checked and audited
exactly like the API and the CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from masterai.api.console.nav import NAV, NavItem
from masterai.api.console.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionInfo,
    SessionStore,
    same,
)
from masterai.registry import Approver, ExecutionContext, ToolListing, ToolResult
from masterai.security import AuthenticationError, Principal, load_principal

if TYPE_CHECKING:
    from masterai.api.chat import Chat
    from masterai.api.common import Api
    from masterai.app import Platform

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
HTMX = "htmx-2.0.11.min.js"
"""The vendored htmx (npm ``htmx.org@2.0.11``, BSD-0 licence header kept in the file)."""


@dataclass(frozen=True, kw_only=True)
class ConsoleUser:
    """The logged-in user of one request."""

    session: SessionInfo
    principal: Principal
    tools: dict[str, ToolListing] = field(default_factory=dict)
    """The tools the user may call, with their allowed operations."""

    @property
    def name(self) -> str:
        """The user's name."""
        return self.principal.name

    @property
    def csrf(self) -> str:
        """The session's CSRF token."""
        return self.session.csrf_token

    def may(self, tool: str, operation: str | None = None) -> bool:
        """Whether the user may call ``tool`` (``operation`` of it, if given)."""
        listing = self.tools.get(tool)
        if listing is None:
            return False
        return operation is None or any(o.name == operation for o in listing.operations)


def _static_versions() -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC.iterdir()
        if path.suffix in STATIC_TYPES
    }


class Console:
    """The web console over one API (its platform, its client-address rule)."""

    def __init__(self, api: Api, *, chat: Chat | None = None) -> None:
        self.api = api
        self.chat = chat
        self.platform: Platform = api.platform
        settings = self.platform.settings.api
        self.secure_cookies = settings.secure_cookies
        self.session_seconds = int(settings.session_hours * 3600)
        self.login_limit = settings.login_attempts_per_minute
        self.static_versions = _static_versions()
        self.pages: set[str] = set()
        """Keys of the nav items whose pages are served (later pages add theirs)."""
        self.templates = Environment(
            loader=PackageLoader("masterai.api.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["static_url"] = self.static_url
        self.templates.filters["pretty"] = pretty_json
        self.templates.globals.update(
            summary_of=summary, structured_of=structured, diff_class=diff_class
        )

    # --- plumbing ---------------------------------------------------------------------

    @cached_property
    def store(self) -> SessionStore:
        """The session store (the database opens on first use)."""
        return SessionStore(self.platform.database, idle=timedelta(seconds=self.session_seconds))

    def static_url(self, name: str) -> str:
        """The URL of a static file, versioned by its content (cached for a year)."""
        return f"/static/{name}?v={self.static_versions.get(name, '0')}"

    def address(self, request: Request) -> str:
        """The audit's client address of ``request``."""
        return self.api.address(request)

    async def user(self, request: Request) -> ConsoleUser:
        """The logged-in user, or an HTTP error that sends the browser to the login page."""
        secret = request.cookies.get(SESSION_COOKIE)
        session = await asyncio.to_thread(self.store.lookup, secret)
        if session is None:
            raise _to_login(request)
        try:
            principal = await asyncio.to_thread(
                load_principal, self.platform.database, session.user_name
            )
        except AuthenticationError:  # deactivated since: the session ends with it
            await asyncio.to_thread(self.store.end, session.id)
            raise _to_login(request) from None
        listings = await asyncio.to_thread(self.platform.registry.list_tools, principal)
        return ConsoleUser(
            session=session, principal=principal, tools={t.name: t for t in listings}
        )

    async def form(self, request: Request, user: ConsoleUser) -> FormData:
        """The posted form after checking its CSRF token (field or ``X-CSRF-Token``).

        Raises:
            HTTPException: 403 when the token is missing or not the session's.
        """
        form = await request.form()
        given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not same(given if isinstance(given, str) else None, user.csrf):
            raise HTTPException(
                status_code=403,
                detail="CSRF token missing or wrong: reload the page and try again",
            )
        return form

    def context(
        self, request: Request, user: ConsoleUser, approver: Approver | None = None
    ) -> ExecutionContext:
        """The context of a call made from the console for ``request``."""
        return self.platform.context(
            user.principal, client_address=self.address(request), approver=approver
        )

    async def call(
        self,
        request: Request,
        user: ConsoleUser,
        tool: str,
        params: dict[str, Any],
        approver: Approver | None = None,
    ) -> ToolResult:
        """One registry call as the logged-in user from the browser's address."""
        return await self.platform.call(tool, params, self.context(request, user, approver))

    # --- rendering --------------------------------------------------------------------

    def nav(self, user: ConsoleUser) -> list[NavItem]:
        """The navigation the user sees: served pages whose tools the user may use."""
        return [item for item in NAV if item.key in self.pages and item.visible(user.may)]

    def render(
        self,
        request: Request,
        template: str,
        user: ConsoleUser | None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        """Render ``template`` (a page, or a fragment for htmx) with the common values."""
        common: dict[str, Any] = {
            "user": user,
            "nav": self.nav(user) if user else [],
            "path": request.url.path,
            "base_url": str(request.base_url).rstrip("/"),
            "csrf": user.csrf if user else "",
            "htmx": HTMX,
            "hx_headers": json.dumps({"X-CSRF-Token": user.csrf}) if user else "{}",
        }
        html = self.templates.get_template(template).render(**common, **values)
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))

    def page(
        self,
        request: Request,
        user: ConsoleUser,
        page: str,
        fragment: str,
        **values: Any,
    ) -> HTMLResponse:
        """``fragment`` alone for an htmx request, else the whole ``page`` around it."""
        if request.headers.get("hx-request") == "true":
            return self.render(request, fragment, user, **values)
        return self.render(request, page, user, fragment=fragment, **values)


def _to_login(request: Request) -> HTTPException:
    if request.headers.get("hx-request") == "true":
        return HTTPException(status_code=401, headers={"HX-Redirect": "/login"})
    return HTTPException(status_code=303, headers={"Location": "/login"})


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON (for result and audit detail blocks)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def structured(result: ToolResult) -> Any:
    """The structured part of a result (``result`` of Master AI tools, else the data)."""
    data = result.data
    if isinstance(data, dict) and "result" in data and "summary" in data:
        return data["result"]
    return data if data is not None else result.content


def summary(result: ToolResult) -> str:
    """The human summary of a result (``summary`` of Master AI tools, else the text)."""
    data = result.data
    text = data.get("summary") if isinstance(data, dict) else None
    return text if isinstance(text, str) else result.content


def diff_class(line: str) -> str:
    """The CSS class of one line of a unified diff (added, removed, header, hunk)."""
    stripped = line.lstrip()
    if stripped.startswith(("+++", "---", "==")):
        return "diff-head"
    if stripped.startswith("@@"):
        return "diff-hunk"
    if stripped.startswith("+"):
        return "diff-add"
    if stripped.startswith("-"):
        return "diff-del"
    return ""
