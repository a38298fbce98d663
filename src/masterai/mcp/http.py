"""``/mcp`` on ``masterai serve``: the MCP server over streamable HTTP with bearer tokens.

Tokens are Master AI's API tokens (``masterai user token NAME``), checked by the SDK's bearer
middleware through :class:`ApiTokenVerifier`: no token (or a revoked or expired one), no
tools — a 401 pointing at the protected-resource metadata
(``/.well-known/oauth-protected-resource/mcp``). ``Host`` and ``Origin`` are checked against
``mcp.allowed_hosts`` and ``mcp.allowed_origins`` (DNS-rebinding protection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from mcp.server import ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from masterai.app import Platform
from masterai.mcp.server import Caller, McpFace, Unauthenticated
from masterai.security import AuthenticationError, Principal
from masterai.security.addresses import forwarded_client

PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
DEFAULT_RESOURCE_URL = "http://127.0.0.1:8000/mcp"


class ApiTokenVerifier:
    """The SDK's token verifier over Master AI's API tokens."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access token for an active API token, ``None`` for anything else."""
        try:
            principal = await asyncio.to_thread(self.platform.tokens.authenticate, token)
        except AuthenticationError:
            return None
        return AccessToken(
            token=token,
            client_id=principal.name,
            subject=f"token:{principal.token_id}",
            scopes=[],
        )


class TokenIdentity:
    """The caller of an HTTP request: the user of its bearer token.

    The client address is the TCP peer, or the forwarded one through trusted proxies.
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._tokens: dict[str, str] = {}

    def reload(self, key: str) -> Principal:
        """The principal of a caller seen before (by :attr:`Caller.key`).

        Raises:
            AuthenticationError: the token is no longer valid (or was never seen here).
        """
        token = self._tokens.get(key)
        if token is None:
            raise AuthenticationError("unknown caller")
        return self.platform.tokens.authenticate(token)

    async def __call__(self, ctx: ServerRequestContext[dict[str, Any], Any]) -> Caller:
        """The caller of the request in ``ctx``."""
        access = get_access_token()
        if access is None:
            raise Unauthenticated("No token, no tools: send 'Authorization: Bearer <token>'")
        try:
            principal = await asyncio.to_thread(self.platform.tokens.authenticate, access.token)
        except AuthenticationError as e:
            raise Unauthenticated(str(e)) from e
        key = f"token:{principal.token_id}"
        self._tokens[key] = access.token
        request = ctx.request
        peer = getattr(getattr(request, "client", None), "host", None) or "unknown"
        headers = getattr(request, "headers", None)
        forwarded = headers.get("x-forwarded-for", "") if headers is not None else ""
        address = forwarded_client(peer, forwarded, self.platform.settings.api.trusted_proxies)
        return Caller(principal=principal, client_address=address, key=key)


class McpHttp:
    """The routes ``masterai serve`` adds for MCP, and the lifespan they need.

    Each lifespan (:meth:`running`) builds a fresh SDK app and session manager, so an app
    whose lifespan runs several times (tests, reloads) serves MCP each time; outside one,
    ``/mcp`` answers 503.
    """

    def __init__(self, face: McpFace, build: Callable[[], Starlette]) -> None:
        self.face = face
        self._build = build
        self._app: Starlette | None = None
        self.routes: list[BaseRoute] = [
            Route(PATH, endpoint=self, methods=["GET", "POST", "DELETE"]),
            Route(METADATA_PATH, endpoint=self, methods=["GET", "OPTIONS"]),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to the SDK app (its bearer middleware first)."""
        app = self._app
        if app is None:
            response = JSONResponse({"error": "MCP is not running"}, status_code=503)
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP while the block runs (enter it in the web app's lifespan)."""
        app = self._build()
        async with self.face.server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None


def mcp_http(platform: Platform) -> McpHttp:
    """The ``/mcp`` endpoint and its protected-resource metadata over ``platform``."""
    settings = platform.settings.mcp
    identity = TokenIdentity(platform)
    face = McpFace(platform, identity, reload=identity.reload)
    resource = settings.resource_url or DEFAULT_RESOURCE_URL
    parts = urlsplit(resource)
    issuer = f"{parts.scheme}://{parts.netloc}"

    def build() -> Starlette:
        return face.server.streamable_http_app(
            streamable_http_path=PATH,
            max_request_body_size=settings.max_body_bytes,
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=list(settings.allowed_hosts),
                allowed_origins=list(settings.allowed_origins),
            ),
            auth=AuthSettings(
                issuer_url=issuer,  # type: ignore[arg-type]
                resource_server_url=resource,  # type: ignore[arg-type]
                validate_token_resource=False,  # Master AI's tokens are for this server only
            ),
            token_verifier=ApiTokenVerifier(platform),
        )

    return McpHttp(face, build)
