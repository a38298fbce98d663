"""The Tools page: every tool and operation the user may call, with a generated form.

``POST /tools/{name}`` reads the form back into arguments (field errors shown in place),
then makes the registry call; a destructive operation first comes back as an approval with
its preview (see :mod:`masterai.api.console.approval`). ``POST /approvals/decide`` is the
Approve / Reject of any such preview in the console.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.approval import Outcome, call_with_approval
from masterai.api.console.core import Console, ConsoleUser
from masterai.api.console.forms import (
    arguments_from,
    fields_for,
    operation_schemas,
    posted_values,
)
from masterai.registry import ToolListing
from masterai.registry.arguments import decode_arguments
from masterai.registry.errors import InvalidArguments

_PANEL_ID = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def _operation(listing: ToolListing, name: str | None) -> tuple[str, dict[str, Any]]:
    schemas = operation_schemas(listing.schema)
    if name is None:
        name = next(iter(schemas))
    if name not in schemas:
        raise HTTPException(
            status_code=404,
            detail=f"Unknown operation {name!r} of {listing.name}; "
            f"available: {', '.join(schemas) or '(none)'}",
        )
    return name, schemas[name]


def _listing(user: ConsoleUser, name: str) -> ToolListing:
    listing = user.tools.get(name)
    if listing is None:
        raise HTTPException(status_code=404, detail=f"Unknown tool: {name}")
    return listing


def action_panels(
    user: ConsoleUser,
    tool: str,
    actions: tuple[tuple[str, str], ...],
    prefill: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A page's change forms: ``{title, panel}`` for each (operation, title) the user may call.

    ``prefill`` values go to the forms whose operation takes that argument.
    """
    listing = user.tools.get(tool)
    if listing is None:
        return []
    schemas = operation_schemas(listing.schema)
    panels = []
    for operation, title in actions:
        if operation not in schemas:
            continue
        taken = schemas[operation].get("properties", {})
        values = {k: v for k, v in (prefill or {}).items() if k in taken}
        panel = panel_values(
            listing,
            operation,
            schemas[operation],
            values=values,
            panel_id=f"{tool}-{operation.replace('_', '-')}",
        )
        panels.append({"title": title, "panel": panel})
    return panels


def panel_values(
    listing: ToolListing,
    operation: str,
    schema: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    outcome: Outcome | None = None,
    panel_id: str = "tool-panel",
) -> dict[str, Any]:
    """What ``tool_panel.html`` shows for one operation (``panel_id``: its element id)."""
    info = next((o for o in listing.operations if o.name == operation), None)
    return {
        "tool": listing,
        "operation": operation,
        "op": info,
        "description": schema.get("description", listing.description),
        "fields": fields_for(schema, values, errors),
        "outcome": outcome,
        "form_error": "Some fields need attention." if errors else None,
        "panel_id": panel_id,
    }


def router(console: Console) -> APIRouter:
    """``/tools``, ``/tools/{name}`` and ``/approvals/decide``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("tools")

    @routes.get("/tools")
    async def tools(request: Request) -> HTMLResponse:
        user = await console.user(request)
        return console.render(
            request, "tools.html", user, tools=list(user.tools.values()), panel=None
        )

    @routes.get("/tools/{name}")
    async def tool(name: str, request: Request, operation: str | None = None) -> HTMLResponse:
        user = await console.user(request)
        listing = _listing(user, name)
        operation, schema = _operation(listing, operation)
        panel = panel_values(listing, operation, schema)
        if request.headers.get("hx-request") == "true":
            return console.render(request, "tool_panel.html", user, **panel)
        return console.render(
            request, "tools.html", user, tools=list(user.tools.values()), panel=panel, **panel
        )

    @routes.post("/tools/{name}")
    async def run(name: str, request: Request) -> HTMLResponse:
        user = await console.user(request)
        form = await console.form(request, user)
        listing = _listing(user, name)
        requested = form.get("operation")
        operation, schema = _operation(listing, requested if isinstance(requested, str) else None)
        arguments, errors = arguments_from(schema, form)
        panel_id = form.get("_panel")
        if not isinstance(panel_id, str) or not _PANEL_ID.fullmatch(panel_id):
            panel_id = "tool-panel"
        outcome = None
        if not errors:
            params = {"operation": operation, **arguments} if operation else arguments
            outcome = await call_with_approval(console, request, user, name, params)
        panel = panel_values(
            listing,
            operation,
            schema,
            values=posted_values(form),
            errors=errors,
            outcome=outcome,
            panel_id=panel_id,
        )
        if request.headers.get("hx-request") == "true":
            return console.render(request, "tool_panel.html", user, **panel)
        return console.render(
            request, "tools.html", user, tools=list(user.tools.values()), panel=panel, **panel
        )

    @routes.post("/approvals/decide")
    async def decide(request: Request) -> HTMLResponse:
        user = await console.user(request)
        form = await console.form(request, user)
        tool, raw, digest = form.get("tool"), form.get("params"), form.get("digest")
        if not (isinstance(tool, str) and isinstance(raw, str) and isinstance(digest, str)):
            raise HTTPException(status_code=400, detail="tool, params and digest are required")
        try:
            params = decode_arguments(raw, "params")
        except InvalidArguments as e:
            raise HTTPException(status_code=400, detail=str(e)) from e
        if form.get("decision") != "approve":
            rejected = {"tool": tool, "operation": params.get("operation")}
            return console.page(
                request, user, "page.html", "rejected.html", title="Rejected", rejected=rejected
            )
        outcome = await call_with_approval(
            console, request, user, tool, params, approved_digest=digest
        )
        return console.page(
            request, user, "page.html", "outcome.html", title="Result", outcome=outcome
        )

    return routes
