"""``masterai mcp``: the MCP server on standard input and output, for desktop clients.

The process serves one identity for its whole life: the user named with ``--as`` or the API
token in ``MASTERAI_TOKEN``. It is looked up again on every request, so a revoked token or a
changed grant takes effect at once (and a changed tool set is announced).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from mcp.server import NotificationOptions, ServerRequestContext
from mcp.server.stdio import stdio_server

from masterai.app import Platform
from masterai.mcp.server import Caller, McpFace, Unauthenticated
from masterai.security import AuthenticationError, Principal, authenticate_token, load_principal

CLIENT_ADDRESS = "mcp:stdio"


class FixedIdentity:
    """The one caller of a stdio server: a user by name, or an API token.

    Args:
        platform: where users and tokens are looked up.
        user: the user name (``--as``).
        token: an API token (``MASTERAI_TOKEN``); wins over ``user``.
    """

    def __init__(self, platform: Platform, *, user: str | None, token: str | None) -> None:
        if not user and not token:
            raise ValueError("an MCP caller needs a user (--as) or a token (MASTERAI_TOKEN)")
        self.platform = platform
        self.user = user
        self.token = token
        self.key = (
            "token:" + hashlib.sha256(token.encode()).hexdigest()[:16] if token else f"user:{user}"
        )

    def load(self, key: str | None = None) -> Principal:
        """The caller's principal as it is now.

        Raises:
            AuthenticationError: no such active user, or the token is unknown, revoked or
                expired.
        """
        database = self.platform.database
        if self.token:
            return authenticate_token(database, self.token)
        assert self.user is not None
        return load_principal(database, self.user)

    async def __call__(self, ctx: ServerRequestContext[dict[str, Any], Any]) -> Caller:
        """The caller of every request on this connection."""
        try:
            principal = await asyncio.to_thread(self.load)
        except AuthenticationError as e:
            raise Unauthenticated(str(e)) from e
        return Caller(principal=principal, client_address=CLIENT_ADDRESS, key=self.key)

    def bind(self, ctx: ServerRequestContext[Any, Any]) -> str:
        """Approval round trips are bound to this process's caller."""
        return self.key


def stdio_face(platform: Platform, *, user: str | None, token: str | None) -> McpFace:
    """The MCP server for one caller (``--as`` user or token)."""
    identity = FixedIdentity(platform, user=user, token=token)
    return McpFace(platform, identity, reload=identity.load, bind=identity.bind)


async def serve_stdio(face: McpFace) -> None:
    """Serve ``face`` on standard input and output until the client closes them."""
    async with stdio_server() as (read_stream, write_stream):
        await face.server.run(
            read_stream,
            write_stream,
            face.server.create_initialization_options(NotificationOptions(tools_changed=True)),
        )
