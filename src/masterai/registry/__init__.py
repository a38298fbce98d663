"""Registry: the one audited way to call tools.

Entry points: :class:`ToolRegistry` (``register``, ``register_factory``, ``prepare``,
``execute_tool``, ``list_tools``), :class:`ExecutionContext`, :class:`ToolResult`,
:class:`PreparedCall`, and approval (:class:`ApprovalRequest`, :class:`Approver`,
:class:`Preview`). See ``README.md`` beside this file.
"""

from masterai.registry.approval import (
    Approval,
    ApprovalRequest,
    ApprovedToolCall,
    Approver,
    Effect,
    Preview,
    PreviewingTool,
    approve_all,
    approved_preview,
)
from masterai.registry.calls import CallRequest, PreparedCall
from masterai.registry.context import (
    ExecutionContext,
    OperationInfo,
    ToolListing,
    ToolResult,
    new_request_id,
)
from masterai.registry.errors import (
    DuplicateToolError,
    InvalidArguments,
    PermissionDenied,
    PipelineError,
    RegistryError,
    TargetNotFound,
    ToolFailed,
    ToolNotFound,
    ToolTimeout,
    ToolUnavailable,
    UndeclaredRoleError,
)
from masterai.registry.monitor import ToolMonitor, ToolStats
from masterai.registry.pipeline import approval_request, preview_call
from masterai.registry.registry import (
    CODE_OPERATIONS,
    INTERNAL_OPERATIONS,
    MODEL_OPERATIONS,
    RegisteredTool,
    ToolRegistry,
)

__all__ = [
    "CODE_OPERATIONS",
    "INTERNAL_OPERATIONS",
    "MODEL_OPERATIONS",
    "Approval",
    "ApprovalRequest",
    "ApprovedToolCall",
    "Approver",
    "CallRequest",
    "DuplicateToolError",
    "Effect",
    "ExecutionContext",
    "InvalidArguments",
    "OperationInfo",
    "PermissionDenied",
    "PipelineError",
    "PreparedCall",
    "Preview",
    "PreviewingTool",
    "RegisteredTool",
    "RegistryError",
    "TargetNotFound",
    "ToolFailed",
    "ToolListing",
    "ToolMonitor",
    "ToolNotFound",
    "ToolRegistry",
    "ToolResult",
    "ToolStats",
    "ToolTimeout",
    "ToolUnavailable",
    "UndeclaredRoleError",
    "approval_request",
    "approve_all",
    "approved_preview",
    "new_request_id",
    "preview_call",
]
