"""Conversation ingestion and alerts over HTTP: thin routes over registry operations.

``POST /api/v1/conversations`` is ``analytics.import_conversations`` of the posted
conversations (as JSON lines): the same checks, the same audit record, and the new messages
queued for the realtime monitors in the import's transaction, so ingestion never waits on
the sandbox. ``/api/v1/alerts`` lists, acknowledges and shows the monitors' backlog through
the ``registry`` tool. See ``docs/alerts.md``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from masterai.api.approvals import Approvals
from masterai.api.common import RECORD_ID, Api, BodyRefused, errors
from masterai.api.models import ToolCallResult
from masterai.api.routes import APPROVE, PENDING, ToolRoutes, present
from masterai.registry import InvalidArguments
from masterai.services.alerts import Severity

IMPORT_TOOL = "analytics"
ALERTS_TOOL = "registry"


class NewConversations(BaseModel):
    """Conversations to ingest, each as one JSONL line of ``masterai conversations import``."""

    model_config = ConfigDict(extra="forbid")

    conversations: list[dict[str, Any]] = Field(
        description="Conversations: {id, company_id, messages: [{role, content, created_at}]}"
    )
    skip_bad: bool = Field(default=False, description="Ingest the good ones, report the bad")
    create_companies: bool = Field(default=False, description="Create unknown companies")


def alerts_router(api: Api, approvals: Approvals) -> APIRouter:
    """``POST /conversations`` and ``/alerts``."""
    router = APIRouter()
    router.include_router(_ingestion(api, approvals))
    router.include_router(_alerts(ToolRoutes(api, approvals, ALERTS_TOOL)))
    return router


def _ingestion(api: Api, approvals: Approvals) -> APIRouter:
    router = APIRouter(tags=["conversations"])

    @router.post(
        "/conversations",
        response_model=ToolCallResult,
        responses={**PENDING, **errors(400, 401, 403, 404, 408, 413, 422, 503)},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": NewConversations.model_json_schema()}},
            }
        },
    )
    async def ingest(request: Request, approve: Annotated[bool, APPROVE] = False) -> JSONResponse:
        """Store conversations and queue their messages for the realtime monitors.

        The call is ``analytics.import_conversations`` with the conversations as JSON lines;
        every conversation is checked first and, unless ``skip_bad``, nothing is stored when
        one is bad.
        """
        principal = await api.principal(request, IMPORT_TOOL)
        body = await api.body(request, principal, IMPORT_TOOL)
        conversations = body.get("conversations")
        unknown = sorted(set(body) - set(NewConversations.model_fields))
        problem = None
        if unknown:
            problem = InvalidArguments(
                f"unknown field {unknown[0]!r}; allowed: conversations, skip_bad, create_companies",
                path=unknown[0],
            )
        elif not isinstance(conversations, list) or not all(
            isinstance(c, dict) for c in conversations
        ):
            problem = InvalidArguments(
                "conversations must be a list of conversation objects", path="conversations"
            )
        if problem is not None:
            await api.refuse(request, principal, IMPORT_TOOL, body, problem)
            raise BodyRefused(problem, 400)
        assert isinstance(conversations, list)
        params = {
            "operation": "import_conversations",
            "format": "jsonl",
            "content": "".join(json.dumps(c) + "\n" for c in conversations),
            **{k: body[k] for k in ("skip_bad", "create_companies") if k in body},
        }
        return await approvals.call(request, principal, IMPORT_TOOL, params, approve=approve)

    return router


def _alerts(calls: ToolRoutes) -> APIRouter:
    router = APIRouter(tags=["alerts"])

    @router.get(
        "/alerts",
        response_model=ToolCallResult,
        responses=errors(400, 401, 403, 404, 408, 422, 503),
    )
    async def list_alerts(
        request: Request,
        company_id: str | None = None,
        tool: str | None = None,
        since: datetime | None = None,
        severity: Severity | None = None,
        unacknowledged: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSONResponse:
        """Alerts the caller may see, newest first (``registry.list_alerts``)."""
        params = present(
            operation="list_alerts", company_id=company_id, tool=tool,
            since=since.isoformat() if since else None,
            severity=severity.value if severity else None,
            unacknowledged=unacknowledged, limit=limit,
        )  # fmt: skip
        return await calls.read(request, params)

    @router.get(
        "/alerts/backlog",
        response_model=ToolCallResult,
        responses=errors(400, 401, 403, 404, 408, 422, 503),
    )
    async def backlog(request: Request) -> JSONResponse:
        """Messages waiting for the monitors, their lag, audit records not yet examined."""
        return await calls.read(request, {"operation": "alerts_backlog"})

    @router.post(
        "/alerts/{alert_id}/acknowledge",
        response_model=ToolCallResult,
        responses={**PENDING, **errors(400, 401, 403, 404, 408, 422, 503)},
    )
    async def acknowledge(
        alert_id: Annotated[int, RECORD_ID],
        request: Request,
        approve: Annotated[bool, APPROVE] = False,
    ) -> JSONResponse:
        """Acknowledge an alert (``registry.acknowledge_alert``)."""
        return await calls.change(request, "acknowledge_alert", {"alert_id": alert_id}, approve)

    return router
