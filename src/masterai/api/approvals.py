"""Approvals over HTTP: calls that wait for a human, and the endpoints that decide them.

``POST /api/v1/tools/{name}`` of a call that needs approval answers ``202`` with a pending
approval instead of running it (see :mod:`masterai.api.pending`). Its caller or a super admin
decides with ``POST /api/v1/approvals/{id}``: approving runs the same call again through the
registry, applied only if its arguments and preview are still the approved ones.
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from masterai.api.common import (
    Api,
    BodyRefused,
    error_body,
    error_response,
    errors,
    result_body,
    result_code,
    result_response,
)
from masterai.api.models import (
    ApprovalDecision,
    ApprovalDecisionRequest,
    ApprovalModel,
    ApprovalSummary,
    PendingApprovalAnswer,
)
from masterai.api.pending import (
    ApprovalStatus,
    ExactApprover,
    PendingApprovals,
    PendingCall,
    RecordingApprover,
)
from masterai.registry import InvalidArguments, PermissionDenied, ToolResult
from masterai.security import AuthenticationError, Principal, load_principal, redact, scrub_text

TOOL_LABEL = "(approvals)"
"""The audit's tool name of a refused request about an approval that was not found."""


def validation_error(error: ValidationError, what: str) -> InvalidArguments:
    """A pydantic validation error of a request body as the registry words it."""
    first = error.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or None
    where = f" at {path!r}" if path else ""
    return InvalidArguments(f"Invalid {what}{where}: {first['msg']}", path=path)


class Approvals:
    """Pending approvals over one :class:`Api`: the calls that store them, the decisions."""

    def __init__(self, api: Api) -> None:
        self.api = api

    @cached_property
    def store(self) -> PendingApprovals:
        """The ``pending_approvals`` table (the database opens on first use)."""
        return PendingApprovals(self.api.platform.database)

    # --- views ----------------------------------------------------------------------------

    def _shown(self, pending: PendingCall, viewer: Principal) -> tuple[dict[str, Any], str | None]:
        """The arguments and preview as ``viewer`` sees them.

        Declared secrets are redacted; the preview is scrubbed unless the viewer may see
        sensitive data.
        """
        registered = self.api.platform.registry.get(pending.tool)
        arguments = redact(
            pending.arguments,
            sensitive_keys=registered.secret_keys if registered else (),
            public_keys=registered.public_keys if registered else (),
        )
        preview = pending.preview
        if preview and not viewer.permissions.data_access.sensitive_data:
            preview = scrub_text(preview)
        return arguments, preview

    def summary(self, pending: PendingCall, viewer: Principal) -> ApprovalSummary:
        """The 202 answer's approval."""
        _, preview = self._shown(pending, viewer)
        return ApprovalSummary(
            id=pending.id,
            tool=pending.tool,
            operation=pending.operation,
            preview=preview,
            effects=list(pending.effects),
            expires_at=pending.expires_at,
        )

    def model(self, pending: PendingCall, viewer: Principal) -> ApprovalModel:
        """An approval as ``/approvals`` shows it to ``viewer``."""
        arguments, preview = self._shown(pending, viewer)
        return ApprovalModel(
            id=pending.id,
            tool=pending.tool,
            operation=pending.operation,
            preview=preview,
            effects=list(pending.effects),
            expires_at=pending.expires_at,
            user=pending.user_name,
            arguments=arguments,
            companies=list(pending.companies),
            company_id=pending.company_id,
            status=pending.status.value,
            created_at=pending.created_at,
            decided_at=pending.decided_at,
            decided_by=pending.decided_by,
            result_audit_id=pending.result_audit_id,
        )

    # --- calls ----------------------------------------------------------------------------

    async def call(
        self,
        request: Request,
        principal: Principal,
        tool: str,
        params: dict[str, Any],
        *,
        approve: bool,
    ) -> JSONResponse:
        """A tool call over HTTP: run, or stored as pending approval (202) if it needs one.

        ``approve`` (``?approve=true``) approves the call only for a token granted
        auto-approval; for any other token the call waits like one without it.
        """
        self_approved = approve and await self.api.may_self_approve(principal)
        approver = RecordingApprover(
            self.store,
            principal=principal,
            client_address=self.api.address(request),
            self_approved=self_approved,
        )
        result = await self.api.call(request, principal, tool, params, approver=approver)
        if approver.pending is None or result.status != "denied":
            return result_response(result)
        answer = PendingApprovalAnswer(
            status="pending_approval",
            approval=self.summary(approver.pending, principal),
            audit_id=result.audit_id,
        )
        return JSONResponse(answer.model_dump(mode="json"), status_code=202)

    # --- decisions ------------------------------------------------------------------------

    async def refuse(
        self,
        request: Request,
        principal: Principal,
        pending: PendingCall | None,
        approval_id: str,
        message: str,
        *,
        code: int,
        status: str = "denied",
    ) -> JSONResponse:
        """Audit a refused request about an approval; the error answer."""
        tool = pending.tool if pending else TOOL_LABEL
        params: dict[str, Any] = {"_approval": approval_id[:64]}
        if pending is not None and pending.operation is not None:
            params["operation"] = pending.operation
        await self.api.refuse(request, principal, tool, params, PermissionDenied(message))
        return error_response(status, message, code)

    async def visible(
        self, request: Request, principal: Principal, approval_id: str
    ) -> PendingCall | JSONResponse:
        """The approval if ``principal`` may see and decide it, else the audited refusal."""
        pending = await asyncio.to_thread(self.store.get, approval_id)
        if pending is None:
            return await self.refuse(
                request,
                principal,
                None,
                approval_id,
                f"Unknown approval: {approval_id!r}",
                code=404,
                status="not_found",
            )
        if pending.user_name != principal.name and not principal.is_super_admin:
            return await self.refuse(
                request,
                principal,
                pending,
                approval_id,
                f"Approval {approval_id!r} is {pending.user_name!r}'s: only they or a super "
                "admin may see or decide it",
                code=403,
            )
        return pending

    async def not_pending(
        self, request: Request, principal: Principal, pending: PendingCall
    ) -> JSONResponse:
        """Refuse a decision on an approval that no longer waits (decided or expired)."""
        if pending.status is ApprovalStatus.EXPIRED:
            message = (
                f"Approval {pending.id!r} expired at {pending.expires_at.isoformat()}; nothing "
                "was run. Make the call again to ask for a new approval."
            )
            return await self.refuse(
                request, principal, pending, pending.id, message, code=410, status="expired"
            )
        message = (
            f"Approval {pending.id!r} was already decided: {pending.status.value}"
            + (f" by {pending.decided_by}" if pending.decided_by else "")
            + "; a decision is taken once"
        )
        return await self.refuse(
            request, principal, pending, pending.id, message, code=409, status="conflict"
        )

    async def decide(
        self, request: Request, principal: Principal, pending: PendingCall, approve: bool
    ) -> JSONResponse:
        """Approve (run the stored call exactly) or reject ``pending``."""
        if pending.status is not ApprovalStatus.PENDING:
            return await self.not_pending(request, principal, pending)
        if not approve:
            return await self._reject(request, principal, pending)
        try:
            runner = await self._runner(principal, pending)
        except AuthenticationError as e:
            message = f"Approval {pending.id!r} cannot run: {e}"
            return await self.refuse(request, principal, pending, pending.id, message, code=403)
        won = await asyncio.to_thread(
            self.store.decide, pending.id, ApprovalStatus.APPROVED, decided_by=principal.name
        )
        if not won:
            return await self._lost(request, principal, pending)
        exact = ExactApprover(pending)
        context = self.api.platform.context(
            runner,
            company_id=pending.company_id,
            client_address=self.api.address(request),
            approver=exact,
        )
        result = await self.api.platform.call(pending.tool, pending.params, context)
        final = ApprovalStatus.STALE if exact.mismatch else ApprovalStatus.APPROVED
        finished = await asyncio.to_thread(
            self.store.finish, pending.id, status=final, result_audit_id=result.audit_id
        )
        return self._ran(finished, principal, result, exact.mismatch)

    async def _runner(self, decider: Principal, pending: PendingCall) -> Principal:
        """Who the approved call runs as: the user who made it, with today's permissions."""
        if decider.name == pending.user_name:
            return decider
        return await asyncio.to_thread(
            load_principal, self.api.platform.database, pending.user_name
        )

    async def _reject(
        self, request: Request, principal: Principal, pending: PendingCall
    ) -> JSONResponse:
        won = await asyncio.to_thread(
            self.store.decide, pending.id, ApprovalStatus.REJECTED, decided_by=principal.name
        )
        if not won:
            return await self._lost(request, principal, pending)
        message = f"Approval {pending.id!r} rejected by {principal.name}; nothing was run"
        params: dict[str, Any] = {"_approval": pending.id}
        if pending.operation is not None:
            params["operation"] = pending.operation
        await self.api.refuse(request, principal, pending.tool, params, PermissionDenied(message))
        decided = await asyncio.to_thread(self.store.get, pending.id)
        assert decided is not None
        body = ApprovalDecision(approval=self.model(decided, principal))
        return JSONResponse(body.model_dump(mode="json"))

    async def _lost(
        self, request: Request, principal: Principal, pending: PendingCall
    ) -> JSONResponse:
        """Another decision (or the expiry) came first."""
        current = await asyncio.to_thread(self.store.get, pending.id)
        assert current is not None, "approvals are never deleted"
        return await self.not_pending(request, principal, current)

    def _ran(
        self, finished: PendingCall, viewer: Principal, result: ToolResult, mismatch: str | None
    ) -> JSONResponse:
        body = ApprovalDecision(approval=self.model(finished, viewer)).model_dump(mode="json")
        body["result"] = result_body(result)
        if mismatch is not None:
            body |= error_body(
                "stale",
                f"Approval {finished.id!r} is stale: {mismatch}. Nothing was changed; make "
                "the call again to see the current preview and ask for a new approval.",
            )
            return JSONResponse(body, status_code=409)
        body["error"] = body["result"]["error"]
        return JSONResponse(body, status_code=result_code(result))


def approvals_router(approvals: Approvals) -> APIRouter:
    """``/approvals``: list, show and decide the calls waiting for approval."""
    router = APIRouter(tags=["approvals"])
    api = approvals.api

    @router.get("/approvals", response_model=list[ApprovalModel], responses=errors(400, 401))
    async def list_approvals(
        request: Request,
        status: Annotated[
            Literal["pending", "approved", "rejected", "expired", "stale", "all"],
            Query(description="Only approvals in this status (default: the pending ones)"),
        ] = "pending",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ApprovalModel]:
        """The caller's approvals (a super admin sees everyone's), newest first."""
        principal = await api.principal(request, TOOL_LABEL)
        found = await asyncio.to_thread(
            approvals.store.list,
            user_name=None if principal.is_super_admin else principal.name,
            status=None if status == "all" else ApprovalStatus(status),
            limit=limit,
        )
        return [approvals.model(p, principal) for p in found]

    @router.get(
        "/approvals/{approval_id}",
        response_model=ApprovalModel,
        responses=errors(401, 403, 404, _404="unknown approval"),
    )
    async def show_approval(approval_id: str, request: Request) -> Any:
        """One approval: the call, its preview, its status and who decided it."""
        principal = await api.principal(request, TOOL_LABEL)
        pending = await approvals.visible(request, principal, approval_id)
        if isinstance(pending, JSONResponse):
            return pending
        return approvals.model(pending, principal)

    @router.post(
        "/approvals/{approval_id}",
        response_model=ApprovalDecision,
        responses=errors(
            400,
            401,
            403,
            404,
            408,
            409,
            410,
            413,
            422,
            _403="not the caller's approval, or the approved call was denied",
            _404="unknown approval",
            _409="already decided, or stale: what the call would change changed since",
            _422="the approved call ran and the tool reported an error",
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": ApprovalDecisionRequest.model_json_schema(),
                    }
                },
            }
        },
    )
    async def decide_approval(approval_id: str, request: Request) -> JSONResponse:
        """Approve (run exactly the stored call) or reject a pending approval, once.

        Its caller or a super admin decides. An approved call runs as its caller, and only if
        its checked arguments and preview are still the stored ones (otherwise: 409 stale).
        """
        principal = await api.principal(request, TOOL_LABEL)
        body = await api.body(request, principal, TOOL_LABEL)
        try:
            decision = ApprovalDecisionRequest.model_validate(body)
        except ValidationError as e:
            error = validation_error(e, "decision")
            await api.refuse(request, principal, TOOL_LABEL, {"_approval": approval_id}, error)
            raise BodyRefused(error, 400) from e
        pending = await approvals.visible(request, principal, approval_id)
        if isinstance(pending, JSONResponse):
            return pending
        return await approvals.decide(request, principal, pending, decision.approve)

    return router
