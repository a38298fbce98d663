"""``masterai mcp``: Master AI's tools to a desktop MCP client, over stdio."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from masterai.cli.common import fail

TOKEN_VARIABLE = "MASTERAI_TOKEN"


def register(app: typer.Typer) -> None:
    """Add the ``mcp`` command to ``app``."""
    app.command("mcp")(mcp)


def mcp(
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="USER",
            help=f"Serve as this user (else the API token in ${TOKEN_VARIABLE}).",
        ),
    ] = None,
) -> None:
    """Serve the tools USER may use to an MCP client on stdin/stdout.

    Every call goes through the registry as that user: permissions,
    approval by MCP elicitation, limits, audit (client address mcp:stdio).
    The identity is --as USER or the API token in MASTERAI_TOKEN (the
    token wins); one is required. Client set-up: docs/mcp.md.
    """
    import asyncio

    from masterai.cli.context import EXIT_DENIED, EXIT_INVALID, open_platform
    from masterai.mcp.stdio import CLIENT_ADDRESS, FixedIdentity, stdio_face
    from masterai.registry import CallRequest, PermissionDenied
    from masterai.security import AuthenticationError, unauthenticated_principal

    token = os.environ.get(TOKEN_VARIABLE, "").strip() or None
    if as_user is not None and not as_user.strip():
        fail("--as must name a user; it was blank", exit_code=EXIT_INVALID)
    if token is None and as_user is None:
        fail(
            f"masterai mcp needs an identity: --as USER or an API token in ${TOKEN_VARIABLE}",
            exit_code=EXIT_INVALID,
        )
    platform = open_platform(warm_sandboxes=True)
    platform.ensure_audit_key()
    identity = FixedIdentity(platform, user=as_user, token=token)
    try:
        identity.load()
    except AuthenticationError as e:
        claimed = as_user if token is None else "(MASTERAI_TOKEN)"
        context = platform.context(
            unauthenticated_principal(str(claimed)), client_address=CLIENT_ADDRESS
        )
        request = CallRequest(tool_name="(mcp)", params={}, context=context)
        rejected = platform.call_rejection(request, PermissionDenied(str(e)))
        fail(f"denied: {e} (audit record {rejected.audit_id})", exit_code=EXIT_DENIED)
    from masterai.mcp.stdio import serve_stdio

    face = stdio_face(platform, user=as_user, token=token)
    try:
        asyncio.run(serve_stdio(face))
    except KeyboardInterrupt:
        pass
    finally:
        platform.close()
