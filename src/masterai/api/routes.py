"""Plumbing of the thin REST routes over one tool's operations (webhooks, scripts).

A route is one registry call as the caller: :class:`ToolRoutes` reads (the registry result)
or changes (through :class:`~masterai.api.approvals.Approvals`: a call that needs approval
waits for one, 202, exactly as on ``POST /api/v1/tools/{name}``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from masterai.api.approvals import Approvals
from masterai.api.common import Api, BodyRefused, result_response
from masterai.api.models import PendingApprovalAnswer
from masterai.registry import InvalidArguments

APPROVE = Query(
    description="Approve this call yourself if it needs approval; counts only for a token "
    "granted auto-approval"
)
PENDING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": PendingApprovalAnswer,
        "description": "the call needs approval: it waits, stored, and did not run",
    }
}
"""The documented 202 answer of a route whose call may wait for approval."""


def present(**values: Any) -> dict[str, Any]:
    """``values`` without the ``None`` ones (arguments not given)."""
    return {k: v for k, v in values.items() if v is not None}


class ToolRoutes:
    """One registry call per route, as the caller, of one tool's operations.

    Args:
        api: the HTTP API's plumbing.
        approvals: where calls that need approval wait.
        tool: the tool the routes call.
    """

    def __init__(self, api: Api, approvals: Approvals, tool: str) -> None:
        self.api = api
        self.approvals = approvals
        self.tool = tool

    async def read(self, request: Request, params: dict[str, Any]) -> JSONResponse:
        """The registry's result of ``params``."""
        principal = await self.api.principal(request, self.tool)
        return result_response(await self.api.call(request, principal, self.tool, params))

    async def change(
        self,
        request: Request,
        operation: str,
        fixed: dict[str, Any],
        approve: bool,
        *,
        body: bool = False,
        integers: frozenset[str] = frozenset(),
    ) -> JSONResponse:
        """A call of ``operation`` that may wait for approval.

        With ``body`` the request body (checked like every body: size, JSON, audited
        refusals) adds the other arguments; what the URL names (``fixed``) and ``operation``
        must stay out of it. ``integers`` names body fields the route publishes as JSON Schema
        integers, where ``3.0`` is an integer too: they reach the tool as ``3``.
        """
        principal = await self.api.principal(request, self.tool)
        params: dict[str, Any] = {}
        if body:
            params = await self.api.body(request, principal, self.tool)
            clash = sorted(({"operation"} | set(fixed)) & set(params))
            if clash:
                error = InvalidArguments(
                    f"{clash[0]!r} is set by this endpoint ({operation}); leave it out of the body",
                    path=clash[0],
                )
                await self.api.refuse(request, principal, self.tool, params, error)
                raise BodyRefused(error, 400)
        for name in integers & params.keys():
            value = params[name]
            if isinstance(value, float) and value.is_integer():
                params[name] = int(value)
        params = {**params, **fixed, "operation": operation}
        return await self.approvals.call(request, principal, self.tool, params, approve=approve)
