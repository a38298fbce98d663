"""Master AI agent state: conversations, plans, their steps and every approval decision.

Owned by ``masterai.agent``. A plan and its steps are written before anything runs and
updated as each step finishes, so a plan survives a restart and can be resumed or audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from masterai.store.models.base import Base, UTCDateTime, counter, flag, timestamp_now


class AgentConversation(Base):
    """One chat between a principal and Master AI."""

    __tablename__ = "agent_conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    model: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()

    messages: Mapped[list[AgentMessage]] = relationship(
        back_populates="conversation", passive_deletes=True, order_by="AgentMessage.seq"
    )


class AgentMessage(Base):
    """One turn of an agent conversation (user request or assistant answer)."""

    __tablename__ = "agent_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("agent_conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    """``user`` or ``assistant``."""
    content: Mapped[str] = mapped_column(Text, nullable=False)
    plan_id: Mapped[str | None] = mapped_column(String(64))
    """The plan this answer came from, if any."""
    input_tokens: Mapped[int] = counter()
    output_tokens: Mapped[int] = counter()
    cost_usd: Mapped[float] = counter(real=True)
    created_at: Mapped[datetime] = timestamp_now()

    conversation: Mapped[AgentConversation] = relationship(back_populates="messages")


class AgentPlan(Base):
    """An execution plan proposed for one request (a re-plan is a new revision)."""

    __tablename__ = "agent_plans"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("agent_conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    request: Mapped[str] = mapped_column(Text, nullable=False)
    principal: Mapped[str] = mapped_column(String(128), nullable=False)
    company_id: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    parent_id: Mapped[str | None] = mapped_column(String(64))
    """The plan this one replaces after a failed step."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """``proposed``, ``approved``, ``running``, ``completed``, ``rejected``, ``failed``,
    ``stopped``, ``replanned`` or ``budget``."""
    summary: Mapped[str | None] = mapped_column(Text)
    """The model's one-line explanation of the plan."""
    answer: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = counter()
    output_tokens: Mapped[int] = counter()
    cost_usd: Mapped[float] = counter(real=True)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()

    steps: Mapped[list[AgentStep]] = relationship(
        back_populates="plan", passive_deletes=True, order_by="AgentStep.position"
    )


class AgentStep(Base):
    """One step of a plan: a tool operation with arguments, and what came of it."""

    __tablename__ = "agent_steps"
    __table_args__ = (UniqueConstraint("plan_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(
        ForeignKey("agent_plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    """1-based order within the plan."""
    tool: Mapped[str] = mapped_column(String(128), nullable=False)
    operation: Mapped[str | None] = mapped_column(String(128))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    purpose: Mapped[str] = mapped_column(Text, nullable=False, default="")
    needs_feedback: Mapped[bool] = flag()
    read_only: Mapped[bool] = flag()
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """``pending``, ``approved``, ``skipped``, ``running``, ``succeeded``, ``failed``."""
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """``{"ok", "content", "data", "error"}`` of the registry's result."""
    audit_id: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    plan: Mapped[AgentPlan] = relationship(back_populates="steps")


class AgentApproval(Base):
    """One approval decision on a plan or on one of its steps."""

    __tablename__ = "agent_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(
        ForeignKey("agent_plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    step_position: Mapped[int | None] = mapped_column(Integer)
    """``None`` for a decision on the whole plan."""
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    """``approve_all``, ``step_by_step``, ``reject``, ``approve``, ``skip``, ``edit``,
    ``auto`` (read-only auto-approval) or ``feedback``."""
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Edited arguments, when the decision changed them."""
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
