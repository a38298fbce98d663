"""Calls over HTTP that wait for approval: the stored request, and the approvers around it.

A destructive call over HTTP is never applied without approval. The call's
:class:`RecordingApprover` answers the registry's approval step by storing the
:class:`~masterai.registry.ApprovalRequest` (tool, operation, checked arguments, preview,
effects, companies) as a ``pending_approvals`` row and refusing; only a token granted
auto-approval may approve its own call. Approving the row later runs the same call again
with an :class:`ExactApprover`, which approves only a request whose arguments and preview are
the stored ones, so what was approved is exactly what runs; a changed preview (the
configuration changed meanwhile) makes the approval ``stale``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from masterai.registry import ApprovalRequest
from masterai.security import Principal
from masterai.store import Database
from masterai.store.models import utcnow
from masterai.store.models.web import PendingApproval

DEFAULT_TTL = timedelta(hours=24)
"""How long a pending approval may be decided on."""


class ApprovalStatus(StrEnum):
    """Where a pending approval is (``pending_approvals.status``)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    STALE = "stale"
    """Approved, but the call's preview or arguments had changed since: nothing ran."""


@dataclass(frozen=True, kw_only=True)
class PendingCall:
    """A stored approval request (``pending_approvals``)."""

    id: str
    user_name: str
    token_id: int | None
    client_address: str | None
    tool: str
    operation: str | None
    arguments: dict[str, Any]
    """The checked arguments, exactly as they will run."""
    preview: str | None
    effects: tuple[str, ...]
    companies: tuple[str, ...]
    company_id: str | None
    """The call's company scope."""
    status: ApprovalStatus
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    result_audit_id: int | None

    @property
    def params(self) -> dict[str, Any]:
        """The registry's ``params`` of the call: ``operation`` plus the arguments."""
        if self.operation is None:
            return dict(self.arguments)
        return {"operation": self.operation, **self.arguments}


def _plain_json(value: Any) -> Any:
    """``value`` as it reads back from a JSON column (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _pending(row: PendingApproval) -> PendingCall:
    return PendingCall(
        id=row.id,
        user_name=row.user_name,
        token_id=row.token_id,
        client_address=row.client_address,
        tool=row.tool,
        operation=row.operation,
        arguments=dict(row.arguments),
        preview=row.preview,
        effects=tuple(row.effects),
        companies=tuple(row.companies),
        company_id=row.company_id,
        status=ApprovalStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        result_audit_id=row.result_audit_id,
    )


class PendingApprovals:
    """The ``pending_approvals`` table: every method is one short transaction.

    Args:
        database: the store.
        ttl: how long a stored request may be decided on.
    """

    def __init__(self, database: Database, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.database = database
        self.ttl = ttl

    def add(
        self,
        request: ApprovalRequest,
        *,
        principal: Principal,
        client_address: str | None,
        company_id: str | None,
    ) -> PendingCall:
        """Store ``request`` as pending; the stored row."""
        now = utcnow()
        row = PendingApproval(
            id=uuid.uuid4().hex,
            user_name=principal.name,
            token_id=principal.token_id,
            client_address=client_address[:64] if client_address else None,
            tool=request.tool,
            operation=request.operation,
            arguments=_plain_json(dict(request.arguments)),
            preview=request.preview,
            effects=sorted(str(e) for e in request.effects),
            companies=list(request.companies),
            company_id=company_id,
            status=ApprovalStatus.PENDING,
            created_at=now,
            expires_at=now + self.ttl,
        )
        with self.database.session() as session:
            session.add(row)
            session.flush()
            return _pending(row)

    def expire_due(self) -> None:
        """Mark pending requests past their expiry ``expired``."""
        with self.database.session() as session:
            session.execute(
                update(PendingApproval)
                .where(
                    PendingApproval.status == ApprovalStatus.PENDING,
                    PendingApproval.expires_at <= utcnow(),
                )
                .values(status=ApprovalStatus.EXPIRED)
            )

    def get(self, approval_id: str) -> PendingCall | None:
        """The request ``approval_id`` (expired ones marked so), or ``None``."""
        self.expire_due()
        with self.database.session() as session:
            row = session.get(PendingApproval, approval_id)
            return _pending(row) if row is not None else None

    def list(
        self, *, user_name: str | None, status: ApprovalStatus | None, limit: int = 100
    ) -> list[PendingCall]:
        """Requests of ``user_name`` (``None``: everyone's) in ``status``, newest first."""
        self.expire_due()
        query = select(PendingApproval).order_by(PendingApproval.created_at.desc()).limit(limit)
        if user_name is not None:
            query = query.where(PendingApproval.user_name == user_name)
        if status is not None:
            query = query.where(PendingApproval.status == status)
        with self.database.session() as session:
            return [_pending(row) for row in session.scalars(query)]

    def decide(self, approval_id: str, status: ApprovalStatus, *, decided_by: str) -> bool:
        """Move a pending, unexpired request to ``status``; whether this call did.

        One conditional update, so of two decisions on the same request (two workers, a
        double click) exactly one wins.
        """
        now = utcnow()
        with self.database.session() as session:
            result = session.execute(
                update(PendingApproval)
                .where(
                    PendingApproval.id == approval_id,
                    PendingApproval.status == ApprovalStatus.PENDING,
                    PendingApproval.expires_at > now,
                )
                .values(status=status, decided_at=now, decided_by=decided_by[:128])
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def finish(
        self, approval_id: str, *, status: ApprovalStatus, result_audit_id: int | None
    ) -> PendingCall:
        """Record what the approved run came to; the row."""
        with self.database.session(immediate=True) as session:
            row = session.get(PendingApproval, approval_id)
            assert row is not None, "finish() follows a successful decide()"
            row.status = status
            row.result_audit_id = result_audit_id
            session.flush()
            return _pending(row)


class RecordingApprover:
    """The approver of a call over HTTP: stores what needs approval and refuses it.

    Args:
        store: where the request is kept.
        principal: the caller.
        client_address: the caller's address.
        company_id: the call's company scope.
        self_approved: the request approves its own call (``?approve=true`` with a token
            granted auto-approval): approve instead of storing.
    """

    def __init__(
        self,
        store: PendingApprovals,
        *,
        principal: Principal,
        client_address: str | None,
        company_id: str | None = None,
        self_approved: bool = False,
    ) -> None:
        self.store = store
        self.principal = principal
        self.client_address = client_address
        self.company_id = company_id
        self.self_approved = self_approved
        self.pending: PendingCall | None = None
        """The stored request, once the registry asked."""

    async def __call__(self, request: ApprovalRequest) -> bool:
        """Approve a self-approved request; otherwise store it and refuse."""
        if self.self_approved:
            return True
        self.pending = await asyncio.to_thread(
            self.store.add,
            request,
            principal=self.principal,
            client_address=self.client_address,
            company_id=self.company_id,
        )
        return False


class ExactApprover:
    """Approves only the stored request: same tool, operation, arguments and preview.

    Args:
        pending: what a human approved.
    """

    def __init__(self, pending: PendingCall) -> None:
        self.pending = pending
        self.mismatch: str | None = None
        """Why the request asked this time is not the approved one (``None``: it is)."""

    async def __call__(self, request: ApprovalRequest) -> bool:
        """Approve ``request`` if it is exactly the approved one."""
        approved = self.pending
        if (request.tool, request.operation) != (approved.tool, approved.operation):
            self.mismatch = (
                f"the call asked to approve {request.tool}.{request.operation}, not "
                f"{approved.tool}.{approved.operation}"
            )
        elif _plain_json(dict(request.arguments)) != approved.arguments:
            self.mismatch = "the call's checked arguments are no longer the approved ones"
        elif request.preview != approved.preview:
            self.mismatch = (
                "what the call would change is no longer what was approved (the data it "
                "changes was changed meanwhile)"
            )
        return self.mismatch is None
