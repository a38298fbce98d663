"""The FastAPI application of ``masterai serve``: every action through the registry.

:func:`create_app` builds the app over one :class:`~masterai.app.Platform`. Each endpoint
that acts makes registry calls with the caller's principal and address, so HTTP calls are
permission-checked, validated once and audited exactly like CLI calls. Refusals before the
registry (no or bad credentials, an oversized or malformed body) are audited too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from masterai.api.auth import Unauthenticated, client_address, principal_of
from masterai.api.models import (
    ErrorBody,
    Health,
    ToolCallResult,
    ToolDetail,
    ToolModel,
)
from masterai.app import Platform
from masterai.registry import (
    CallRequest,
    ExecutionContext,
    InvalidArguments,
    PermissionDenied,
    RegistryError,
    ToolResult,
)
from masterai.registry.arguments import decode_arguments
from masterai.registry.describe import describe_operations
from masterai.security import Principal, unauthenticated_principal

API = "/api/v1"
STATUS_CODES = {
    "ok": 200,
    "invalid": 400,
    "denied": 403,
    "not_found": 404,
    "timeout": 408,
    "failed": 422,
}
"""HTTP status of a registry result by its audit status (``failed``: the tool ran and
reported an error)."""

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "invalid arguments or body",
        401: "missing or bad credentials",
        403: "not permitted",
        404: "unknown tool",
        408: "the call ran past its time limit",
        413: "body too large",
        422: "the tool reported an error",
    }.items()
}


def error_response(status: str, message: str, code: int, path: str | None = None) -> JSONResponse:
    """``{"error": {"status", "message", "path"}}`` with HTTP status ``code``."""
    headers = {"www-authenticate": "Bearer"} if code == 401 else None
    body = {"error": {"status": status, "message": message, "path": path}}
    return JSONResponse(body, status_code=code, headers=headers)


def result_response(result: ToolResult) -> JSONResponse:
    """A registry result as the API answers it (the error as an object)."""
    body = result.to_dict()
    body.pop("error_path")
    body["error"] = (
        {"status": result.status, "message": result.error, "path": result.error_path}
        if not result.ok
        else None
    )
    return JSONResponse(body, status_code=STATUS_CODES.get(result.status, 500))


class Api:
    """The endpoints' shared plumbing: principals, contexts, audited refusals."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def address(self, request: Request) -> str:
        """The audit's client address of ``request``."""
        return client_address(request, self.platform.settings.api.trusted_proxies)

    async def principal(self, request: Request, tool: str) -> Principal:
        """The caller, or :class:`Unauthenticated` after auditing the refusal."""
        try:
            return await asyncio.to_thread(principal_of, self.platform, request)
        except Unauthenticated as e:
            claimed = unauthenticated_principal("(bearer token)")
            await self.refuse(request, claimed, tool, {}, PermissionDenied(e.message))
            raise

    def context(self, request: Request, principal: Principal) -> ExecutionContext:
        """The context of a call made for ``request``."""
        return self.platform.context(principal, client_address=self.address(request))

    async def refuse(
        self,
        request: Request,
        principal: Principal,
        tool: str,
        params: Any,
        error: RegistryError,
    ) -> ToolResult:
        """Audit a call refused before the registry's steps."""
        context = self.platform.context(principal, client_address=self.address(request))
        call = CallRequest(tool_name=tool, params=params, context=context)
        return await self.platform.registry.reject(call, error)

    async def body(self, request: Request, principal: Principal, tool: str) -> dict[str, Any]:
        """The request body as a JSON object of arguments (size-limited), or an audited 400/413."""
        limit = self.platform.settings.api.max_body_bytes
        raw = await request.body()
        if len(raw) > limit:
            error = InvalidArguments(
                f"Request body too large: {len(raw)} bytes (the limit is {limit}; "
                "MASTERAI_API__MAX_BODY_BYTES)"
            )
            await self.refuse(request, principal, tool, {"_raw_bytes": len(raw)}, error)
            raise BodyRefused(error, 413)
        try:
            return decode_arguments(raw or b"{}", "request body")
        except InvalidArguments as e:
            preview = raw[:200].decode("utf-8", "replace")
            await self.refuse(request, principal, tool, {"_raw": preview}, e)
            raise BodyRefused(e, 400) from e

    async def call(
        self, request: Request, principal: Principal, tool: str, params: dict[str, Any]
    ) -> ToolResult:
        """One registry call for ``request``."""
        return await self.platform.call(tool, params, self.context(request, principal))


class BodyRefused(Exception):
    """A body refused before the registry (already audited)."""

    def __init__(self, error: RegistryError, code: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.code = code


def create_app(platform: Platform | None = None) -> FastAPI:
    """The HTTP API (``/api/v1``), health endpoints and OpenAPI document over ``platform``."""
    platform = platform or Platform()
    api = Api(platform)
    app = FastAPI(
        title="Master AI",
        version="1",
        summary="Every action through one audited tool registry.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.platform = platform
    app.state.api = api

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "content-security-policy" and request.url.path == "/docs":
                continue  # the interactive docs page loads its own script
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return error_response("unauthenticated", exc.message, 401)

    @app.exception_handler(BodyRefused)
    async def body_refused(request: Request, exc: BodyRefused) -> JSONResponse:
        return error_response(exc.error.status, str(exc.error), exc.code)

    app.include_router(_health(platform))
    app.include_router(_tools(api), prefix=API)
    app.include_router(_audit(api), prefix=API)
    return app


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


def _tools(api: Api) -> APIRouter:
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
        responses=ERRORS,
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
    async def call_tool(name: str, request: Request) -> JSONResponse:
        """Call a tool with the body as its arguments; answers the registry's result."""
        principal = await api.principal(request, name)
        params = await api.body(request, principal, name)
        return result_response(await api.call(request, principal, name, params))

    return router


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
        status: str | None = None,
        since: datetime | None = None,
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
