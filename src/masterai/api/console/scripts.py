"""The Scripts & runs page: scripts with their schedules, the run log, each run's output.

Lists come from ``code.list_scripts`` and ``code.list_runs``, a run's output from
``code.get_run``, a script's code and versions from ``code.get_script``; creating, changing,
running, cancelling and deleting, and a company's test suite (``generate_test_cases``,
``run_integration_tests``), are ``code`` operations posted from forms generated from their
schemas (the same forms as the Tools page), each permission-checked and audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.api.console.tools import action_panels

ACTIONS = (
    ("run_script", "Run a script now"),
    ("create_script", "Add a script"),
    ("update_script", "Change a script (a new version)"),
    ("enable_script", "Enable a script"),
    ("disable_script", "Disable a script"),
    ("cancel_run", "Cancel a run"),
    ("delete_script", "Delete a script"),
    ("generate_test_cases", "Generate a company's test suite"),
    ("run_integration_tests", "Run a company's test suite"),
)


def router(console: Console) -> APIRouter:
    """``/scripts``, ``/scripts/{name}`` and ``/runs/{id}``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("scripts")

    async def page(
        request: Request, user: ConsoleUser, script: str | None, run: int | None
    ) -> HTMLResponse:
        scripts = await console.call(request, user, "code", {"operation": "list_scripts"})
        query: dict[str, Any] = {"operation": "list_runs", "limit": 50}
        if script is not None:
            query["script"] = script
        runs = await console.call(request, user, "code", query)
        shown = None
        if script is not None:
            shown = await console.call(
                request, user, "code", {"operation": "get_script", "script": script}
            )
        opened = None
        if run is not None:
            opened = await console.call(
                request, user, "code", {"operation": "get_run", "run_id": run}
            )
        return console.render(
            request,
            "scripts.html",
            user,
            scripts=scripts,
            script_rows=structured(scripts) if scripts.ok else [],
            runs=runs,
            run_rows=structured(runs) if runs.ok else [],
            script=shown,
            script_data=structured(shown) if shown is not None and shown.ok else None,
            run=opened,
            run_data=structured(opened) if opened is not None and opened.ok else None,
            panels=action_panels(user, "code", ACTIONS, {"script": script} if script else None),
        )

    @routes.get("/scripts")
    async def scripts(request: Request) -> HTMLResponse:
        return await page(request, await console.user(request), None, None)

    @routes.get("/scripts/{name}")
    async def script(name: str, request: Request) -> HTMLResponse:
        return await page(request, await console.user(request), name, None)

    @routes.get("/runs/{run_id}")
    async def run(run_id: int, request: Request) -> HTMLResponse:
        return await page(request, await console.user(request), None, run_id)

    return routes
