"""Webhooks and integration health over HTTP: thin routes over ``integration`` operations.

Each route is one registry call as the caller (``POST /api/v1/tools/integration`` with the
same arguments does the same); changes that need approval wait for one (202), exactly as on
the tools endpoint. See ``docs/http.md`` and ``docs/events.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from masterai.api.approvals import Approvals
from masterai.api.common import RECORD_ID, Api, errors
from masterai.api.models import ToolCallResult
from masterai.api.routes import APPROVE, PENDING, ToolRoutes, present

TOOL = "integration"


class NewWebhook(BaseModel):
    """A subscription to platform events."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(description="An event type, a prefix pattern (`configuration.*`) or `*`")
    url: str = Field(description="Where deliveries are POSTed (through the egress guard)")
    secret: str | None = Field(
        default=None, description="Signing secret (default: one is generated and shown once)"
    )
    company_id: str | None = Field(
        default=None, description="The company whose events (default: the platform's)"
    )
    name: str | None = Field(default=None, description="A label")


def webhooks_router(api: Api, approvals: Approvals) -> APIRouter:
    """``/webhooks``, ``/webhooks/deliveries`` and ``/integrations/*/health``."""
    router = APIRouter(tags=["webhooks"])
    calls = ToolRoutes(api, approvals, TOOL)
    router.include_router(_subscriptions(calls))
    router.include_router(_deliveries(calls))
    return router


def _subscriptions(calls: ToolRoutes) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/webhooks",
        response_model=ToolCallResult,
        responses=errors(400, 401, 403, 404, 408, 422, 503),
    )
    async def list_webhooks(request: Request, company_id: str | None = None) -> JSONResponse:
        """The subscriptions the caller may see (``integration.list_webhooks``)."""
        return await calls.read(request, present(operation="list_webhooks", company_id=company_id))

    @router.post(
        "/webhooks",
        response_model=ToolCallResult,
        responses={**PENDING, **errors(400, 401, 403, 404, 408, 413, 422, 503)},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": NewWebhook.model_json_schema()}},
            }
        },
    )
    async def add_webhook(
        request: Request, approve: Annotated[bool, APPROVE] = False
    ) -> JSONResponse:
        """Subscribe a URL to events (``integration.setup_webhook``).

        The body is checked like every body (size, JSON, then the operation's arguments, each
        refusal audited).
        """
        return await calls.change(request, "setup_webhook", {}, approve, body=True)

    @router.delete(
        "/webhooks/{webhook_id}",
        response_model=ToolCallResult,
        responses={**PENDING, **errors(400, 401, 403, 404, 408, 422, 503)},
    )
    async def remove_webhook(
        webhook_id: Annotated[int, RECORD_ID],
        request: Request,
        approve: Annotated[bool, APPROVE] = False,
    ) -> JSONResponse:
        """Remove a subscription and its delivery log (``integration.delete_webhook``)."""
        return await calls.change(request, "delete_webhook", {"webhook": webhook_id}, approve)

    return router


def _deliveries(calls: ToolRoutes) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/webhooks/deliveries",
        response_model=ToolCallResult,
        responses=errors(400, 401, 403, 404, 408, 422, 503),
    )
    async def list_deliveries(
        request: Request,
        webhook: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        status: Literal["pending", "delivered", "dead"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> JSONResponse:
        """The delivery log, each delivery with every attempt (``integration.list_deliveries``)."""
        params = present(operation="list_deliveries", limit=limit, webhook=webhook, status=status)
        return await calls.read(request, params)

    @router.post(
        "/webhooks/deliveries/{delivery_id}/redeliver",
        response_model=ToolCallResult,
        responses={**PENDING, **errors(400, 401, 403, 404, 408, 422, 503)},
    )
    async def redeliver(
        delivery_id: Annotated[int, RECORD_ID],
        request: Request,
        approve: Annotated[bool, APPROVE] = False,
    ) -> JSONResponse:
        """Queue a delivery again with a fresh attempt budget (``integration.redeliver``)."""
        return await calls.change(request, "redeliver", {"delivery_id": delivery_id}, approve)

    @router.get(
        "/integrations/connections/{name}/health",
        response_model=ToolCallResult,
        responses=errors(400, 401, 403, 404, 408, 422, 503),
    )
    async def connection_health(name: str, request: Request) -> JSONResponse:
        """Open a read-only transaction on a configured connection (``check_database``)."""
        return await calls.read(request, {"operation": "check_database", "connection": name})

    @router.get(
        "/integrations/email/health",
        response_model=ToolCallResult,
        responses=errors(401, 403, 408, 422),
    )
    async def email_health(request: Request) -> JSONResponse:
        """Connect to the SMTP server (``integration.check_email``)."""
        return await calls.read(request, {"operation": "check_email"})

    return router
