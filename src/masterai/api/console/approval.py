"""Approval of destructive calls in the console: preview first, then exactly that call.

The first submission runs the call with an approver that keeps the registry's
:class:`~masterai.registry.ApprovalRequest` and declines, so nothing changes and the audit
records a ``denied`` call, as for a declined prompt in the CLI. The console shows the
request's preview (a diff, for configuration changes) with Approve and Reject. Approve runs
the same call again with an approver that agrees only when the new request's preview and
arguments are the ones shown (their digest travels with the form): if the data changed in
between, the new preview is shown instead and nothing is applied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from masterai.api.console.core import Console, ConsoleUser
from masterai.registry import ApprovalRequest, ToolResult


def request_digest(request: ApprovalRequest) -> str:
    """What an approval is given on: tool, operation, arguments and preview."""
    body = json.dumps(
        {
            "tool": request.tool,
            "operation": request.operation,
            "arguments": dict(request.arguments),
            "preview": request.preview,
        },
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """A call waiting for the user's approval in the page."""

    tool: str
    operation: str | None
    params: dict[str, Any]
    """The arguments to submit again (``operation`` included)."""
    reason: str
    preview: str | None
    effects: list[str]
    companies: list[str]
    digest: str
    changed: bool = False
    """The call was approved on an earlier preview that no longer holds."""
    audit_id: int | None = None
    """The audit record of the declined first run."""

    @property
    def params_json(self) -> str:
        """The arguments as the hidden form field carries them."""
        return json.dumps(self.params, ensure_ascii=False, default=str)


class _Gate:
    """An approver that agrees only to the request the user saw (by digest)."""

    def __init__(self, approved_digest: str | None) -> None:
        self.approved_digest = approved_digest
        self.declined: ApprovalRequest | None = None

    async def __call__(self, request: ApprovalRequest) -> bool:
        if self.approved_digest is not None and request_digest(request) == self.approved_digest:
            return True
        self.declined = request
        return False


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A console call's result, or the approval it waits for."""

    result: ToolResult
    proposal: Proposal | None = None


async def call_with_approval(
    console: Console,
    request: Request,
    user: ConsoleUser,
    tool: str,
    params: dict[str, Any],
    *,
    approved_digest: str | None = None,
) -> Outcome:
    """Run a call; one that needs approval comes back as a :class:`Proposal` instead.

    With ``approved_digest`` (the user pressed Approve) the call runs if it is still the one
    shown.
    """
    gate = _Gate(approved_digest)
    result = await console.call(request, user, tool, params, approver=gate)
    declined = gate.declined
    if result.ok or declined is None:
        return Outcome(result=result)
    arguments = dict(declined.arguments)
    if declined.operation is not None:
        arguments = {"operation": declined.operation, **arguments}
    proposal = Proposal(
        tool=declined.tool,
        operation=declined.operation,
        params=arguments,
        reason=declined.reason,
        preview=declined.preview,
        effects=sorted(e.value.replace("_", " ") for e in declined.effects),
        companies=list(declined.companies),
        digest=request_digest(declined),
        changed=approved_digest is not None,
        audit_id=result.audit_id,
    )
    return Outcome(result=result, proposal=proposal)
