"""``masterai serve``: the web console and the HTTP API on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from masterai.cli.common import console


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the web console at / and the HTTP API under /api/v1 (OpenAPI at /openapi.json).

    Every request acts through the tool registry as the user whose API token it sends
    (`masterai user token NAME`). Ctrl-C stops the server cleanly.
    """
    import uvicorn

    from masterai.cli.context import open_platform

    open_platform()  # migrate (and fail with one line) before the workers start
    base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    console.print(
        f"Master AI on {base}/ (console), API {base}/api/v1, docs {base}/docs", highlight=False
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
    )
