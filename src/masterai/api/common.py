"""What every router of the HTTP API shares: error shapes, results, callers and their bodies.

The endpoints of :mod:`masterai.api.app`, :mod:`masterai.api.approvals` and
:mod:`masterai.api.chat` (and the console's) use one :class:`Api` over the platform: it
authenticates the caller (auditing refusals), decodes bodies like ``--args`` (size limit,
duplicate keys, NaN refused, audited) and builds the context of registry calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from masterai.api.auth import Unauthenticated, client_address, principal_of, token_auto_approves
from masterai.api.models import ErrorBody
from masterai.app import Platform
from masterai.registry import (
    Approver,
    CallRequest,
    ExecutionContext,
    InvalidArguments,
    PermissionDenied,
    RegistryError,
    ToolResult,
)
from masterai.registry.arguments import decode_arguments
from masterai.security import Principal, unauthenticated_principal

API = "/api/v1"
STATUS_CODES = {
    "ok": 200,
    "invalid": 400,
    "denied": 403,
    "not_found": 404,
    "timeout": 408,
    "failed": 422,
    "unavailable": 503,
}
"""HTTP status of a registry result by its audit status (``failed``: the tool ran and
reported an error; ``unavailable``: a service it needs, such as the job queue, is not
reachable, and the same call may succeed when tried again)."""

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "invalid arguments or body",
        401: "missing or bad credentials",
        403: "not permitted",
        404: "unknown tool",
        408: "the call ran past its time limit",
        409: "the request conflicts with the current state",
        410: "gone: the approval expired",
        413: "body too large",
        422: "the tool reported an error",
        503: "a service the request needs is not available (no model configured, the "
        "database or the job queue away): try again",
    }.items()
}
"""Documented error answers (all ``{"error": {...}}``); routers pick the codes they use."""


RECORD_ID = Path(ge=1, le=2**31 - 1, description="A record id")
"""A record id in a path: a positive 32-bit integer (what the database stores)."""


def errors(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The documented error answers ``codes`` (``descriptions``: ``_404="unknown plan"``)."""
    picked: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description = descriptions.get(f"_{code}", ERRORS[code]["description"])
        picked[code] = {**ERRORS[code], "description": description}
    return picked


DATABASE_AWAY = "The database is not reachable right now; try again in a moment"
"""The message of a 503 (or stream ``error``) while the database is away."""


def error_body(status: str, message: str, path: str | None = None) -> dict[str, Any]:
    """``{"error": {"status", "message", "path"}}``."""
    return {"error": {"status": status, "message": message, "path": path}}


def error_response(status: str, message: str, code: int, path: str | None = None) -> JSONResponse:
    """``{"error": {"status", "message", "path"}}`` with HTTP status ``code``."""
    headers = {"www-authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(error_body(status, message, path), status_code=code, headers=headers)


def result_body(result: ToolResult) -> dict[str, Any]:
    """A registry result as the API shows it (the error as an object)."""
    body = result.to_dict()
    body.pop("error_path")
    body["error"] = (
        {"status": result.status, "message": result.error, "path": result.error_path}
        if not result.ok
        else None
    )
    return body


def result_code(result: ToolResult) -> int:
    """The HTTP status of a registry result."""
    return STATUS_CODES.get(result.status, 500)


def result_response(result: ToolResult) -> JSONResponse:
    """A registry result as the API answers it."""
    return JSONResponse(result_body(result), status_code=result_code(result))


class ApiError(Exception):
    """An error answer raised from inside an endpoint: ``{"error": ...}`` with ``code``."""

    def __init__(self, status: str, message: str, code: int, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.path = path

    def response(self) -> JSONResponse:
        """The error answer."""
        return error_response(self.status, self.message, self.code, self.path)


class BodyRefused(Exception):
    """A body refused before the registry (already audited)."""

    def __init__(self, error: RegistryError, code: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.code = code


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

    async def may_self_approve(self, principal: Principal) -> bool:
        """Whether ``principal``'s token was granted auto-approval."""
        return await asyncio.to_thread(token_auto_approves, self.platform, principal)

    def context(
        self,
        request: Request,
        principal: Principal,
        *,
        approver: Approver | None = None,
        company_id: str | None = None,
    ) -> ExecutionContext:
        """The context of a call made for ``request``."""
        return self.platform.context(
            principal,
            company_id=company_id,
            client_address=self.address(request),
            approver=approver,
        )

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

    async def raw_body(self, request: Request, principal: Principal, tool: str) -> bytes:
        """The request body within the size limit, or an audited 413."""
        limit = self.platform.settings.api.max_body_bytes
        try:
            raw = await request.body()
        except ClientDisconnect as e:  # nobody reads the answer; nothing was done
            raise BodyRefused(InvalidArguments("The client went away mid-request"), 400) from e
        if len(raw) > limit:
            error = InvalidArguments(
                f"Request body too large: {len(raw)} bytes (the limit is {limit}; "
                "MASTERAI_API__MAX_BODY_BYTES)"
            )
            await self.refuse(request, principal, tool, {"_raw_bytes": len(raw)}, error)
            raise BodyRefused(error, 413)
        return raw

    async def body(self, request: Request, principal: Principal, tool: str) -> dict[str, Any]:
        """The request body as a JSON object of arguments (size-limited), or an audited 400/413."""
        raw = await self.raw_body(request, principal, tool)
        try:
            return decode_arguments(raw or b"{}", "request body")
        except InvalidArguments as e:
            preview = raw[:200].decode("utf-8", "replace")
            await self.refuse(request, principal, tool, {"_raw": preview}, e)
            raise BodyRefused(e, 400) from e

    async def call(
        self,
        request: Request,
        principal: Principal,
        tool: str,
        params: dict[str, Any],
        *,
        approver: Approver | None = None,
    ) -> ToolResult:
        """One registry call for ``request``."""
        context = self.context(request, principal, approver=approver)
        return await self.platform.call(tool, params, context)
