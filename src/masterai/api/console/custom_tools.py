"""The Custom tools page: the editor with tests and the diff, activation, the catalog.

The list is ``registry.list_custom_tools``; a tool's definition, versions, last test report
and the diff of its newest version against the active one come from
``registry.get_custom_tool``; the catalog from ``registry.search_catalog``. Creating,
changing (a new version), testing, activating (an approval showing the code diff), disabling,
deleting, publishing and installing are ``registry`` operations posted from forms generated
from their schemas (the same forms as the Tools page), each permission-checked and audited.
See ``docs/custom-tools.md``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.api.console.tools import action_panels

TOOL = "registry"
ACTIONS = (
    ("create_custom_tool", "Define a custom tool"),
    ("update_custom_tool", "Change a custom tool (a new version)"),
    ("test_custom_tool", "Run a version's tests"),
    ("activate_custom_tool", "Activate a tested version (approval shows the diff)"),
    ("disable_custom_tool", "Disable a custom tool"),
    ("delete_custom_tool", "Delete a custom tool"),
    ("publish_custom_tool", "Publish a version to the catalog"),
    ("install_from_catalog", "Install a catalog version for companies"),
)


def router(console: Console) -> APIRouter:
    """``/custom-tools`` and ``/custom-tools/{name}``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("custom_tools")

    async def page(
        request: Request, user: ConsoleUser, name: str | None, query: str
    ) -> HTMLResponse:
        listed = await console.call(request, user, TOOL, {"operation": "list_custom_tools"})
        catalog = await console.call(
            request,
            user,
            TOOL,
            {"operation": "search_catalog", **({"query": query} if query else {})},
        )
        shown = None
        if name is not None:
            shown = await console.call(
                request, user, TOOL, {"operation": "get_custom_tool", "name": name}
            )
        tool = structured(shown) if shown is not None and shown.ok else None
        prefill = {"name": name} if name else {}
        if tool is not None:
            prefill["version"] = str(tool["latest_version"])
        return console.render(
            request,
            "custom_tools.html",
            user,
            listed=listed,
            rows=structured(listed) if listed.ok else [],
            catalog=catalog,
            catalog_rows=structured(catalog) if catalog.ok else [],
            query=query,
            shown=shown,
            tool=tool,
            panels=action_panels(user, TOOL, ACTIONS, prefill or None),
        )

    @routes.get("/custom-tools")
    async def custom_tools(request: Request, q: str = "") -> HTMLResponse:
        return await page(request, await console.user(request), None, q)

    @routes.get("/custom-tools/{name}")
    async def custom_tool(name: str, request: Request, q: str = "") -> HTMLResponse:
        return await page(request, await console.user(request), name, q)

    return routes
