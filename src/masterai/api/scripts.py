"""Scripts and runs over HTTP: thin routes over the ``code`` tool's script operations.

Each route is one registry call as the caller (``POST /api/v1/tools/code`` with the same
arguments does the same, and is how scripts are created and changed: their arguments are the
tool's); a change that needs approval (deleting a script) waits for one (202), exactly as on
the tools endpoint. See ``docs/http.md`` and ``docs/scripts.md``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from masterai.api.approvals import Approvals
from masterai.api.common import RECORD_ID, Api, errors
from masterai.api.models import ToolCallResult
from masterai.api.routes import APPROVE, PENDING, ToolRoutes

TOOL = "code"
READ = errors(400, 401, 403, 404, 408, 422, 503)
CHANGE = {**PENDING, **errors(400, 401, 403, 404, 408, 413, 422, 503)}


RUN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "params": {
                            "type": "object",
                            "description": "Run parameters (checked against the script's schema)",
                        },
                        "version": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                    },
                    "additionalProperties": False,
                }
            }
        },
    }
}
"""The body of ``POST /scripts/{name}/run``: run_script's other arguments."""


def scripts_router(api: Api, approvals: Approvals) -> APIRouter:
    """``/scripts`` and ``/runs``."""
    router = APIRouter(tags=["scripts"])
    calls = ToolRoutes(api, approvals, TOOL)
    router.include_router(_scripts(calls))
    router.include_router(_runs(calls))
    return router


def _scripts(calls: ToolRoutes) -> APIRouter:
    router = APIRouter()

    @router.get("/scripts", response_model=ToolCallResult, responses=READ)
    async def list_scripts(request: Request, company_id: str | None = None) -> JSONResponse:
        """The scripts the caller may see (``code.list_scripts``)."""
        params: dict[str, Any] = {"operation": "list_scripts"}
        if company_id is not None:
            params["company_id"] = company_id
        return await calls.read(request, params)

    @router.get("/scripts/{name}", response_model=ToolCallResult, responses=READ)
    async def get_script(name: str, request: Request) -> JSONResponse:
        """A script with its code, schedule and versions (``code.get_script``)."""
        return await calls.read(request, {"operation": "get_script", "script": name})

    @router.post(
        "/scripts/{name}/run",
        response_model=ToolCallResult,
        responses=CHANGE,
        openapi_extra=RUN_BODY,
    )
    async def run_script(
        name: str, request: Request, approve: Annotated[bool, APPROVE] = False
    ) -> JSONResponse:
        """Run a script now and record the run (``code.run_script``, trigger ``api``)."""
        fixed = {"script": name, "trigger": "api"}
        return await calls.change(
            request, "run_script", fixed, approve, body=True, integers=frozenset({"version"})
        )

    @router.post("/scripts/{name}/enable", response_model=ToolCallResult, responses=CHANGE)
    async def enable_script(
        name: str, request: Request, approve: Annotated[bool, APPROVE] = False
    ) -> JSONResponse:
        """Enable a script and its schedule (``code.enable_script``)."""
        return await calls.change(request, "enable_script", {"script": name}, approve)

    @router.post("/scripts/{name}/disable", response_model=ToolCallResult, responses=CHANGE)
    async def disable_script(
        name: str, request: Request, approve: Annotated[bool, APPROVE] = False
    ) -> JSONResponse:
        """Disable a script: no runs, no ticks (``code.disable_script``)."""
        return await calls.change(request, "disable_script", {"script": name}, approve)

    @router.delete("/scripts/{name}", response_model=ToolCallResult, responses=CHANGE)
    async def delete_script(
        name: str, request: Request, approve: Annotated[bool, APPROVE] = False
    ) -> JSONResponse:
        """Delete a script with its versions, schedule and runs (approval first)."""
        return await calls.change(request, "delete_script", {"script": name}, approve)

    return router


def _runs(calls: ToolRoutes) -> APIRouter:
    router = APIRouter()

    @router.get("/runs", response_model=ToolCallResult, responses=READ)
    async def list_runs(
        request: Request,
        script: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> JSONResponse:
        """The newest runs, of one script if given (``code.list_runs``)."""
        params: dict[str, Any] = {"operation": "list_runs", "limit": limit}
        if script is not None:
            params["script"] = script
        return await calls.read(request, params)

    @router.get("/runs/{run_id}", response_model=ToolCallResult, responses=READ)
    async def get_run(run_id: Annotated[int, RECORD_ID], request: Request) -> JSONResponse:
        """One run with its output (``code.get_run``)."""
        return await calls.read(request, {"operation": "get_run", "run_id": run_id})

    @router.post("/runs/{run_id}/cancel", response_model=ToolCallResult, responses=CHANGE)
    async def cancel_run(
        run_id: Annotated[int, RECORD_ID],
        request: Request,
        approve: Annotated[bool, APPROVE] = False,
    ) -> JSONResponse:
        """Cancel a queued or running run; its sandbox is killed (``code.cancel_run``)."""
        return await calls.change(request, "cancel_run", {"run_id": run_id}, approve)

    return router
