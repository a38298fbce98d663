"""``masterai serve``: the web console and the HTTP API on uvicorn."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from masterai.cli.common import console

GRACEFUL_SHUTDOWN_SECONDS = 5
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the web console at /, the HTTP API under /api/v1 and MCP at /mcp.

    Every request acts through the tool registry as the user whose API token it sends
    (`masterai user token NAME`). Ctrl-C stops the server cleanly.
    """
    import uvicorn

    from masterai.cli.context import open_platform
    from masterai.settings import McpSettings

    open_platform()  # migrate (and fail with one line) before the workers start
    base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    # The workers build their settings from the environment: name /mcp's public URL, and
    # accept this address's Host header, unless the operator configured them.
    os.environ.setdefault("MASTERAI_MCP__RESOURCE_URL", f"{base}/mcp")
    if host not in LOOPBACK_HOSTS and host not in WILDCARD_HOSTS:
        hosts = [*McpSettings().allowed_hosts, f"{base.removeprefix('http://')}"]
        origins = [*McpSettings().allowed_origins, base]
        os.environ.setdefault("MASTERAI_MCP__ALLOWED_HOSTS", json.dumps(hosts))
        os.environ.setdefault("MASTERAI_MCP__ALLOWED_ORIGINS", json.dumps(origins))
    console.print(
        f"Master AI on {base}/ (console), API {base}/api/v1, MCP {base}/mcp, docs {base}/docs",
        highlight=False,
    )
    uvicorn.run(
        "masterai.api.server:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,  # X-Forwarded-For is read only from MASTERAI_API__TRUSTED_PROXIES
        server_header=False,
        # Streams (chat, MCP sessions) stay open until their client leaves: Ctrl-C waits
        # this long for them, then closes them.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
