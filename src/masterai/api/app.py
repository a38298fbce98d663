"""The FastAPI application of ``masterai serve``: every action through the registry.

:func:`create_app` builds the app over one :class:`~masterai.app.Platform`. Each endpoint
that acts makes registry calls with the caller's principal and address, so HTTP calls are
permission-checked, validated once and audited exactly like CLI calls. Refusals before the
registry (no or bad credentials, an oversized or malformed body) are audited too. A call
that needs approval waits for one (:mod:`masterai.api.approvals`); chat and plans are in
:mod:`masterai.api.chat`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator
from sqlalchemy.exc import InterfaceError, OperationalError

from masterai.api.alerts import alerts_router
from masterai.api.approvals import Approvals, approvals_router
from masterai.api.auth import Unauthenticated
from masterai.api.chat import Chat, chat_router
from masterai.api.common import (
    API,
    DATABASE_AWAY,
    ERRORS,
    STATUS_CODES,
    Api,
    ApiError,
    BodyRefused,
    error_response,
    errors,
    result_response,
)
from masterai.api.console import console_router
from masterai.api.middleware import ApiGuard
from masterai.api.models import (
    Health,
    PendingApprovalAnswer,
    ToolCallResult,
    ToolDetail,
    ToolModel,
)
from masterai.api.scripts import scripts_router
from masterai.api.webhooks import webhooks_router
from masterai.app import Platform
from masterai.audit import STATUSES
from masterai.mcp.http import mcp_http
from masterai.registry.describe import describe_operations

__all__ = [
    "API",
    "ERRORS",
    "STATUS_CODES",
    "Api",
    "ApiError",
    "BodyRefused",
    "create_app",
    "error_response",
    "result_response",
]


def create_app(platform: Platform | None = None) -> FastAPI:
    """The HTTP API (``/api/v1``), health endpoints and OpenAPI document over ``platform``."""
    platform = platform or Platform()
    api = Api(platform)
    approvals = Approvals(api)
    chat = Chat(api)

    mcp = mcp_http(platform)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp.running(), platform.background():
            yield
        await chat.close()

    app = FastAPI(
        title="Master AI",
        version="1",
        summary="Every action through one audited tool registry.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.api = api
    app.state.approvals = approvals
    app.state.chat = chat

    app.add_middleware(ApiGuard)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return error_response("unauthenticated", exc.message, 401)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(BodyRefused)
    async def body_refused(request: Request, exc: BodyRefused) -> JSONResponse:
        return error_response(exc.error.status, str(exc.error), exc.code, exc.error.path)

    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith(API):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where, *path = [str(part) for part in first.get("loc", ())] or ["request"]
        name = ".".join(path) or None
        message = f"Invalid {where} parameter {name!r}: {first.get('msg')}"
        return error_response("invalid", message, 400, name)

    app.router.routes.extend(mcp.routes)  # /mcp: the MCP server (masterai.mcp.http)
    app.include_router(_health(platform))
    app.include_router(_tools(api, approvals), prefix=API)
    app.include_router(_audit(api), prefix=API)
    app.include_router(approvals_router(approvals), prefix=API)
    app.include_router(chat_router(chat), prefix=API)
    app.include_router(webhooks_router(api, approvals), prefix=API)
    app.include_router(scripts_router(api, approvals), prefix=API)
    app.include_router(alerts_router(api, approvals), prefix=API)
    app.include_router(console_router(api, chat))  # the web console at /, /static
    _document_errors(app)
    return app


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 while the database is away (restart, fail-over): one clear answer, not a bare 500.

    The transaction was rolled back, and the pool reconnects on the next request.
    """
    return error_response("unavailable", DATABASE_AWAY, 503)


def _document_errors(app: FastAPI) -> None:
    """Document the ``/api/v1`` answers as they are: errors are JSON ``ErrorBody``.

    FastAPI documents bad path or query parameters as its own 422 shape (here they are 400
    with every error's shape), and the errors of a streaming endpoint in the stream's media
    type (they are JSON, sent before any stream starts). Every ``/api/v1`` endpoint takes
    ``Authorization: Bearer <token>``.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for path, methods in schema.get("paths", {}).items():
            if path.startswith(API):
                for operation in methods.values():
                    _document_operation(operation)
        components = schema.setdefault("components", {})
        if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
            for unused in ("HTTPValidationError", "ValidationError"):
                components.get("schemas", {}).pop(unused, None)
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "masterai user token"}
        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(operation: dict[str, Any]) -> None:
    responses = operation.get("responses", {})
    for code, response in responses.items():
        content = response.get("content", {})
        if not code.startswith("2") and "text/event-stream" in content:
            content["application/json"] = content.pop("text/event-stream")
    if "HTTPValidationError" in str(responses.get("422", "")):
        del responses["422"]
        error = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
        responses.setdefault(
            "400",
            {"description": ERRORS[400]["description"], "content": {"application/json": error}},
        )
    operation["security"] = [{"bearer": []}]


def _health(platform: Platform) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """The process answers."""
        return Health(status="ok")

    @router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz() -> Any:
        """The database is reachable and at the current schema revision."""
        from masterai.store.database import HEAD_REVISION

        def check() -> str | None:
            try:
                revision = platform.database.current_revision()
            except Exception as e:  # any failure to reach the database means "not ready"
                return f"database unreachable: {type(e).__name__}"
            if revision != HEAD_REVISION:
                return f"database at revision {revision}, expected {HEAD_REVISION}"
            return None

        problem = await asyncio.to_thread(check)
        if problem:
            return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
        return Health(status="ready")

    return router


def _tools(api: Api, approvals: Approvals) -> APIRouter:
    router = APIRouter(tags=["tools"])

    @router.get("/tools", response_model=list[ToolModel], responses={401: ERRORS[401]})
    async def list_tools(request: Request) -> list[ToolModel]:
        """The tools and operations the caller may use, each with its arguments' schema."""
        principal = await api.principal(request, "(tools)")
        listings = await asyncio.to_thread(api.platform.registry.list_tools, principal)
        return [
            ToolModel(
                name=t.name,
                category=t.category,
                description=t.description,
                operations=[o.__dict__ for o in t.operations],  # type: ignore[misc]
                arguments_schema=t.schema,
            )
            for t in listings
        ]

    @router.get(
        "/tools/{name}",
        response_model=ToolDetail,
        responses={401: ERRORS[401], 404: ERRORS[404]},
    )
    async def show_tool(name: str, request: Request) -> Any:
        """One tool: its operations, parameters (type, role) and what a call needs."""
        principal = await api.principal(request, name)
        registry = api.platform.registry
        registered = await asyncio.to_thread(registry.get, name)
        allowed = registry.allowed_operations(principal, registered) if registered else []
        if registered is None or not allowed:
            return error_response("not_found", f"Unknown tool: {name}", 404)
        return ToolDetail(
            name=name,
            category=registered.category,
            description=registered.tool.get_brief_description(),
            operations=[d.to_dict() for d in describe_operations(registered, allowed)],  # type: ignore[misc]
        )

    @router.post(
        "/tools/{name}",
        response_model=ToolCallResult,
        responses={
            202: {
                "model": PendingApprovalAnswer,
                "description": "the call needs approval: it waits, stored, and did not run",
            },
            **errors(400, 401, 403, 404, 408, 413, 422, 503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": "The arguments, `operation` included",
                        }
                    }
                },
            }
        },
    )
    async def call_tool(
        name: str,
        request: Request,
        approve: Annotated[
            bool,
            Query(
                description="Approve this call yourself if it needs approval; counts only "
                "for a token granted auto-approval (`masterai user token --auto-approve`)"
            ),
        ] = False,
    ) -> JSONResponse:
        """Call a tool with the body as its arguments; answers the registry's result.

        A call that needs approval (a destructive operation) is not run: it is stored and
        answered 202 with a pending approval to decide with ``POST /api/v1/approvals/{id}``.
        """
        principal = await api.principal(request, name)
        params = await api.body(request, principal, name)
        return await approvals.call(request, principal, name, params, approve=approve)

    return router


RFC_3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: object) -> object:
    """Only an RFC 3339 date-time with its offset (no bare numbers taken as timestamps)."""
    if value is not None and not (isinstance(value, str) and RFC_3339.fullmatch(value)):
        raise ValueError("expected an RFC 3339 date-time such as 2026-12-01T00:00:00Z")
    return value


def _audit(api: Api) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit",
        response_model=ToolCallResult,
        responses={400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403]},
    )
    async def search_audit(
        request: Request,
        tool: str | None = None,
        user: str | None = None,
        company: str | None = None,
        status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
        since: Annotated[
            datetime | None,
            BeforeValidator(_rfc3339),
            Query(description="RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
    ) -> JSONResponse:
        """Audit records by tool, user, company, status and time (an ``admin`` tool call)."""
        principal = await api.principal(request, "admin")
        params: dict[str, Any] = {"operation": "audit_search", "limit": limit}
        filters = {"tool_name": tool, "user": user, "company_id": company, "status": status}
        params |= {k: v for k, v in filters.items() if v is not None}
        if since is not None:
            params["since"] = since.isoformat()
        return result_response(await api.call(request, principal, "admin", params))

    @router.get(
        "/audit/verify",
        response_model=ToolCallResult,
        responses={401: ERRORS[401], 403: ERRORS[403]},
    )
    async def verify_audit(request: Request) -> JSONResponse:
        """Walk the audit chain (an ``admin`` tool call); ``data.result.ok`` says if it holds."""
        principal = await api.principal(request, "admin")
        return result_response(
            await api.call(request, principal, "admin", {"operation": "audit_verify"})
        )

    return router
