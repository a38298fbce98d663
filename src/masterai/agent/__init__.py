"""The Master AI agent: plan -> approval -> execution through the registry -> synthesis.

Entry points: :class:`MasterAI` (``process_request``, ``resume``), the :class:`Approver`
protocol with :class:`ApproveAll` and :class:`ReadOnlyApprover` (and :class:`DecisionDeferred`
for approvers that answer in a later request), and the values :class:`Plan`,
:class:`PlanStep`, :class:`AgentResponse`.
"""

from masterai.agent.approval import (
    ApproveAll,
    Approver,
    DecisionDeferred,
    Feedback,
    PlanDecision,
    ReadOnlyApprover,
    StepDecision,
)
from masterai.agent.errors import AgentError, AgentNotFoundError, PlanStateError
from masterai.agent.master import AgentEvent, EventSink, MasterAI
from masterai.agent.plan import AgentResponse, Plan, PlanStep, StepResult
from masterai.agent.repository import AgentRepository, ApprovalRecord

__all__ = [
    "AgentError",
    "AgentEvent",
    "AgentNotFoundError",
    "AgentRepository",
    "AgentResponse",
    "ApprovalRecord",
    "ApproveAll",
    "Approver",
    "DecisionDeferred",
    "EventSink",
    "Feedback",
    "MasterAI",
    "Plan",
    "PlanDecision",
    "PlanStateError",
    "PlanStep",
    "ReadOnlyApprover",
    "StepDecision",
    "StepResult",
]
