"""Logging in (an API token, or a one-time link from ``masterai login-link``) and out.

A refused login is audited under the tool name ``(console login)`` (never with the
credential) and counts toward the per-address limit of ``login_attempts_per_minute``; over
it, logins from that address are answered 429 without looking at the credential.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from masterai.api.console.core import Console
from masterai.api.console.sessions import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_TOOL,
    SESSION_COOKIE,
    new_secret,
    same,
)
from masterai.registry import PermissionDenied
from masterai.security import AuthenticationError, authenticate_token, unauthenticated_principal


class LoginRefused(Exception):
    """A login that did not succeed: what to tell the user, and the HTTP status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class LoginPages:
    """The login and logout handlers over one console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def _login_page(
        self, request: Request, template: str, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        token = request.cookies.get(LOGIN_COOKIE) or new_secret()
        response = self.console.render(
            request, template, None, status_code=status_code, login_csrf=token, **values
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=self.console.secure_cookies,
            path="/login",
        )
        return response

    async def _check(self, request: Request) -> None:
        """The login form's double-submit token, then the address's failed-login count."""
        form = await request.form()
        given = form.get(CSRF_FIELD)
        if not same(given if isinstance(given, str) else None, request.cookies.get(LOGIN_COOKIE)):
            raise LoginRefused("The login form expired: try again.", 403)
        address = self.console.address(request)
        failures = await asyncio.to_thread(self.console.store.failed_logins, address)
        if failures >= self.console.login_limit:
            await self._refuse(request, "Too many failed logins from this address")
            raise LoginRefused("Too many failed logins: wait a minute and try again.", 429)

    async def _refuse(self, request: Request, reason: str) -> None:
        claimed = unauthenticated_principal(LOGIN_TOOL)
        await self.console.api.refuse(request, claimed, LOGIN_TOOL, {}, PermissionDenied(reason))

    async def _logged_in(self, request: Request, user_id: int) -> RedirectResponse:
        store = self.console.store
        previous = await asyncio.to_thread(store.lookup, request.cookies.get(SESSION_COOKIE))
        if previous is not None:  # a new login never reuses a session
            await asyncio.to_thread(store.end, previous.id)
        secret, _ = await asyncio.to_thread(store.create, user_id)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            secure=self.console.secure_cookies,
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def _token_user(self, request: Request) -> int:
        await self._check(request)
        token = (await request.form()).get("token")
        if not isinstance(token, str) or not token.strip():
            await self._refuse(request, "No API token given")
            raise LoginRefused("Paste an API token (from `masterai user token NAME`).", 401)
        try:
            principal = await asyncio.to_thread(
                authenticate_token, self.console.platform.database, token.strip()
            )
        except AuthenticationError as e:
            await self._refuse(request, str(e))
            raise LoginRefused(
                "That token is unknown, revoked or expired, or its user is deactivated.", 401
            ) from e
        assert principal.user_id is not None, "a token always belongs to a user"
        return principal.user_id

    async def login_form(self, request: Request) -> Response:
        """The login form (or home, when already logged in)."""
        session = await asyncio.to_thread(
            self.console.store.lookup, request.cookies.get(SESSION_COOKIE)
        )
        if session is not None:
            return RedirectResponse("/", status_code=303)
        return self._login_page(request, "login.html", error=None)

    async def login(self, request: Request) -> Response:
        """Log in with an API token."""
        try:
            user_id = await self._token_user(request)
        except LoginRefused as refused:
            response = self._login_page(
                request, "login.html", refused.status_code, error=refused.message
            )
            if refused.status_code == 429:
                response.headers["retry-after"] = "60"
            return response
        return await self._logged_in(request, user_id)

    async def link_form(self, secret: str, request: Request) -> Response:
        """A button that uses a login link (link scanners that fetch the URL do not)."""
        usable = await asyncio.to_thread(self.console.store.link_is_usable, secret)
        return self._login_page(
            request,
            "login_link.html",
            200 if usable else 410,
            usable=usable,
            action=f"/login/{secret}",
            error=None,
        )

    async def link_login(self, secret: str, request: Request) -> Response:
        """Log in with a one-time link (it is used up)."""
        try:
            await self._check(request)
            user_id = await asyncio.to_thread(self.console.store.consume_link, secret)
            if user_id is None:
                await self._refuse(request, "Unknown, used or expired login link")
                raise LoginRefused("This login link is unknown, used or expired.", 410)
        except LoginRefused as refused:
            return self._login_page(
                request,
                "login_link.html",
                refused.status_code,
                usable=False,
                action=f"/login/{secret}",
                error=refused.message,
            )
        return await self._logged_in(request, user_id)

    async def logout(self, request: Request) -> Response:
        """End the session."""
        user = await self.console.user(request)
        await self.console.form(request, user)
        await asyncio.to_thread(self.console.store.end, user.session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def router(console: Console) -> APIRouter:
    """``/login``, ``/login/{secret}`` and ``/logout``."""
    pages = LoginPages(console)
    routes = APIRouter(include_in_schema=False)
    routes.add_api_route("/login", pages.login_form, methods=["GET"])
    routes.add_api_route("/login", pages.login, methods=["POST"])
    routes.add_api_route("/login/{secret}", pages.link_form, methods=["GET"])
    routes.add_api_route("/login/{secret}", pages.link_login, methods=["POST"])
    routes.add_api_route("/logout", pages.logout, methods=["POST"])
    return routes
