"""Asking the human over MCP before a call that needs approval.

A destructive or model-calling call is shown to the person at the MCP client through
elicitation: a form with the change (the diff the tool previewed), what it does and the
companies it touches, and one yes/no field. On a handshake-era connection (protocol
2025-11-25 or older) the server asks mid-call (``elicitation/create``); on a 2026-07-28
connection it returns the question (``InputRequiredResult``) and runs the call when the client
repeats it with the answer. The answer is bound to the preview it was given on: if the change
differs when the call is repeated, nothing runs. A client without elicitation cannot ask, so
such calls are refused unless the principal's ``approvals.auto_approve`` lists the tool's
category.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import mcp.types as types

from masterai.registry import ApprovalRequest

APPROVAL_KEY = "approval"
"""The key of the approval question in ``input_requests``/``input_responses``."""

APPROVE_FIELD = "approve"

MAX_PREVIEW_CHARS = 6000
"""Longest preview shown in the question (the rest is cut, with a note)."""


def preview_digest(preview: str | None) -> str:
    """A digest of what the human was shown (bound into the 2026 round-trip state)."""
    return hashlib.sha256((preview or "").encode()).hexdigest()


def question(request: ApprovalRequest) -> str:
    """The text shown to the human: what the call does, where, and the change itself."""
    lines = [f"{request.reason}."]
    effects = sorted(e.value.replace("_", " ") for e in request.effects)
    if effects:
        lines.append(f"Effects: {', '.join(effects)}.")
    if request.companies:
        lines.append(f"Companies: {', '.join(request.companies)}.")
    arguments = json.dumps(dict(request.arguments), ensure_ascii=False, default=str)
    lines.append(f"Arguments: {arguments[:1000]}")
    if request.preview:
        preview = request.preview
        if len(preview) > MAX_PREVIEW_CHARS:
            cut = len(preview) - MAX_PREVIEW_CHARS
            preview = preview[:MAX_PREVIEW_CHARS] + f"\n... ({cut} more characters)"
        lines.append(f"Change:\n{preview}")
    lines.append("Approve it?")
    return "\n".join(lines)


def form(request: ApprovalRequest) -> types.ElicitRequestFormParams:
    """The elicitation form for ``request``: the question and one required yes/no field."""
    return types.ElicitRequestFormParams(
        message=question(request),
        requested_schema={
            "type": "object",
            "properties": {
                APPROVE_FIELD: {
                    "type": "boolean",
                    "title": "Approve",
                    "description": "Run this call now",
                }
            },
            "required": [APPROVE_FIELD],
        },
    )


def accepted(result: types.ElicitResult | None) -> bool:
    """Whether the human accepted the form and said yes."""
    return (
        result is not None
        and result.action == "accept"
        and isinstance(result.content, dict)
        and result.content.get(APPROVE_FIELD) is True
    )


@dataclass
class ApprovalOutcome:
    """What the approver saw and answered during one registry call (for the MCP answer)."""

    asked: ApprovalRequest | None = None
    declined: bool = False
    stale: bool = False
    cannot_ask: bool = False
    notes: list[str] = field(default_factory=list)

    def explain(self) -> str | None:
        """Why the call did not run, in the caller's words (``None``: not for approval)."""
        if self.stale:
            return (
                "The change is no longer the one you approved (the data changed meanwhile); "
                "nothing ran. Call the tool again to see the current change."
            )
        if self.declined:
            return "You declined the call; nothing ran."
        if self.cannot_ask:
            category = self.notes[0] if self.notes else "this"
            return (
                "This call needs approval, and this MCP client cannot ask you (it does not "
                "support elicitation); nothing ran. Use a client with elicitation, or have an "
                f"administrator grant approvals.auto_approve for the {category!r} category."
            )
        return None


def parse_state(state: Any) -> str | None:
    """The preview digest a repeated call carries (``None``: no or foreign state)."""
    if not isinstance(state, str):
        return None
    try:
        decoded = json.loads(state)
    except ValueError:
        return None
    if isinstance(decoded, dict) and isinstance(decoded.get("preview"), str):
        return str(decoded["preview"])
    return None


def make_state(preview: str | None) -> str:
    """The round-trip state of a question (sealed by the SDK before it leaves)."""
    return json.dumps({"preview": preview_digest(preview)})
