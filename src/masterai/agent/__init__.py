"""The Master AI agent: plan -> approval -> execution through the registry -> synthesis.

Entry points: :class:`MasterAI` (``process_request``, ``resume``), the :class:`Approver`
protocol with :class:`ApproveAll` and :class:`ReadOnlyApprover`, and the values
:class:`Plan`, :class:`PlanStep`, :class:`AgentResponse`.
"""

from masterai.agent.approval import (
    ApproveAll,
    Approver,
    Feedback,
    PlanDecision,
    ReadOnlyApprover,
    StepDecision,
)
from masterai.agent.master import AgentError, AgentEvent, EventSink, MasterAI
from masterai.agent.plan import AgentResponse, Plan, PlanStep, StepResult
from masterai.agent.repository import AgentRepository, ApprovalRecord

__all__ = [
    "AgentError",
    "AgentEvent",
    "AgentRepository",
    "AgentResponse",
    "ApprovalRecord",
    "ApproveAll",
    "Approver",
    "EventSink",
    "Feedback",
    "MasterAI",
    "Plan",
    "PlanDecision",
    "PlanStep",
    "ReadOnlyApprover",
    "StepDecision",
    "StepResult",
]
