"""The web console of ``masterai serve``: server-rendered pages over the registry.

Entry point: :func:`console_router` (``app.include_router(console_router(api))``). Pages are
Jinja2 templates with htmx (vendored, pinned) and one CSS file; charts are SVG drawn on the
server. Every action is a registry call as the logged-in user from the browser's address.
See ``docs/console.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from masterai.api.console import (
    aidev,
    alerts,
    analytics,
    audit,
    chat,
    configs,
    custom_tools,
    login,
    people,
    playground,
    scripts,
    tools,
    webhooks,
)
from masterai.api.console.core import STATIC, STATIC_TYPES, Console

if TYPE_CHECKING:
    from masterai.api.chat import Chat
    from masterai.api.common import Api

PAGES = (
    login,
    chat,
    tools,
    configs,
    playground,
    analytics,
    audit,
    people,
    scripts,
    webhooks,
    custom_tools,
    alerts,
    aidev,
)
"""Modules with a ``router(console)``; each page's module registers its navigation key."""


def console_router(api: Api, chat: Chat | None = None) -> APIRouter:
    """Every console route (pages, login, static files) over ``api``'s platform.

    Args:
        api: The HTTP API's plumbing (platform, client addresses, audited refusals).
        chat: The API's chat (its model client); default: one of the console's own.
    """
    console = Console(api, chat=chat)
    routes = APIRouter(include_in_schema=False)
    for module in PAGES:
        routes.include_router(module.router(console))

    @routes.get("/")
    async def home(request: Request) -> Response:
        user = await console.user(request)
        first = console.nav(user)
        return RedirectResponse(first[0].path if first else "/tools", status_code=303)

    @routes.get("/static/{name}")
    async def static(name: str) -> Response:
        path = STATIC / name
        if name not in console.static_versions or not path.is_file():
            raise HTTPException(status_code=404, detail=f"No static file {name!r}")
        return Response(
            path.read_bytes(),
            media_type=STATIC_TYPES[path.suffix],
            headers={"cache-control": "public, max-age=31536000, immutable"},
        )

    return routes


__all__ = ["Console", "console_router"]
