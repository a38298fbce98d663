"""The JSON shapes of the HTTP API (what ``/openapi.json`` documents and clients rely on)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """What went wrong, in the registry's wording."""

    status: str = Field(description="invalid, denied, not_found, failed, timeout, ...")
    message: str
    path: str | None = Field(default=None, description="The offending parameter, if known")


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {...}}``."""

    error: ErrorDetail


class ToolCallResult(BaseModel):
    """The registry's result of one call."""

    ok: bool
    status: str
    tool: str
    operation: str | None = None
    content: str = ""
    data: Any = None
    error: ErrorDetail | None = None
    duration_ms: float = 0.0
    audit_id: int | None = None
    request_id: str | None = None


class OperationModel(BaseModel):
    """One operation the caller may call."""

    name: str
    description: str
    read_only: bool
    destructive: bool


class ToolModel(BaseModel):
    """A tool as the caller may use it, with the JSON Schema of its arguments."""

    name: str
    category: str
    description: str
    operations: list[OperationModel]
    arguments_schema: dict[str, Any] = Field(
        description="JSON Schema of the arguments (restricted to the caller's operations)"
    )


class ParameterModel(BaseModel):
    """One parameter of an operation."""

    name: str
    type: str
    required: bool
    description: str
    enum: list[Any] | None = None
    role: str | None = None


class OperationDetail(BaseModel):
    """An operation with its parameters and what a call of it needs."""

    name: str
    description: str
    read_only: bool
    destructive: bool
    parameters: list[ParameterModel]
    needs_approval: bool
    calls_model: bool
    names_company: bool
    effects: list[str]


class ToolDetail(BaseModel):
    """``GET /api/v1/tools/{name}``."""

    name: str
    category: str
    description: str
    operations: list[OperationDetail]


class Health(BaseModel):
    """``/healthz`` and ``/readyz``."""

    status: str
    detail: str | None = None


# --- approvals ----------------------------------------------------------------------------

ApprovalStatusName = Literal["pending", "approved", "rejected", "expired", "stale"]


class ApprovalSummary(BaseModel):
    """A call waiting for approval, as the call's 202 answer shows it."""

    id: str
    tool: str
    operation: str | None
    preview: str | None = Field(description="What the call would change (a diff), if known")
    effects: list[str] = Field(description="reads, changes_data, calls_model, ...")
    expires_at: datetime


class PendingApprovalAnswer(BaseModel):
    """``202``: the call needs approval and was not run; decide with ``/approvals/{id}``."""

    status: Literal["pending_approval"]
    approval: ApprovalSummary
    audit_id: int | None = Field(description="The audit record of the refused attempt")


class ApprovalModel(ApprovalSummary):
    """A call that was asked for approval, and what became of it."""

    user: str = Field(description="Who made the call")
    arguments: dict[str, Any] = Field(description="The checked arguments (secrets redacted)")
    companies: list[str]
    company_id: str | None
    status: ApprovalStatusName
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    result_audit_id: int | None = Field(description="The audit record of the approved run")


class ApprovalDecisionRequest(BaseModel):
    """``POST /api/v1/approvals/{id}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    approve: bool


class ApprovalDecision(BaseModel):
    """The decision on an approval; with the registry's result when the call ran."""

    approval: ApprovalModel
    result: ToolCallResult | None = None
    error: ErrorDetail | None = None


# --- chat and plans ---------------------------------------------------------------------


class ChatRequest(BaseModel):
    """``POST /api/v1/chat``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(min_length=1, max_length=20_000, pattern=r"\S")
    conversation_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Carry on with this conversation (new if unknown)",
    )
    company_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Company scope of the turn"
    )


class StepResultModel(BaseModel):
    """The registry's result of a step."""

    ok: bool
    status: str
    content: str
    data: Any = None
    error: str | None = None
    audit_id: int | None = None
    duration_ms: float = 0.0


class PlanStepModel(BaseModel):
    """One step of a plan."""

    position: int
    tool: str
    operation: str | None
    arguments: dict[str, Any]
    purpose: str
    read_only: bool
    calls_model: bool
    needs_feedback: bool
    status: Literal["pending", "approved", "skipped", "running", "succeeded", "failed"]
    result: StepResultModel | None = None


class DecisionModel(BaseModel):
    """One stored decision on a plan or step."""

    step_position: int | None
    decision: str
    actor: str
    note: str | None


class PlanModel(BaseModel):
    """A plan of the agent, its steps and what it waits for."""

    id: str
    conversation_id: str
    request: str
    summary: str
    revision: int
    parent_id: str | None
    company_id: str | None
    status: str = Field(description="proposed, paused, running, completed, rejected, ...")
    waiting_for: Literal["approval", "feedback"] | None = Field(
        description="What the plan waits for: approve or reject it, or give feedback"
    )
    feedback_step: int | None = Field(default=None, description="The step awaiting feedback")
    steps: list[PlanStepModel]
    decisions: list[DecisionModel] = Field(default_factory=list)


class UsageModel(BaseModel):
    """Model tokens spent."""

    input_tokens: int
    output_tokens: int


class AgentAnswer(BaseModel):
    """How a turn ended (the ``done`` event of a stream; the answer of ``/reject``)."""

    text: str
    status: Literal[
        "answered",
        "completed",
        "rejected",
        "failed",
        "stopped",
        "budget",
        "awaiting_approval",
        "awaiting_feedback",
    ]
    conversation_id: str
    usage: UsageModel
    cost_usd: float
    actions: list[str]
    plans: list[PlanModel]


class RejectRequest(BaseModel):
    """``POST /api/v1/plans/{id}/reject``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    note: str | None = Field(default=None, max_length=2000)


class FeedbackRequest(BaseModel):
    """``POST /api/v1/plans/{id}/feedback``: go on (or stop) after a step, with a note."""

    model_config = ConfigDict(extra="forbid", strict=True)

    note: str | None = Field(default=None, max_length=2000)
    proceed: bool = True
