"""Registry: the one audited way to call tools.

Entry points: :class:`ToolRegistry` (``register``, ``execute_tool``, ``list_tools``),
:class:`ExecutionContext`, :class:`ToolResult`. See ``README.md`` beside this file.
"""

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
    RegistryError,
    ToolFailed,
    ToolNotFound,
    ToolTimeout,
)
from masterai.registry.monitor import ToolMonitor, ToolStats
from masterai.registry.registry import RegisteredTool, ToolRegistry

__all__ = [
    "DuplicateToolError",
    "ExecutionContext",
    "InvalidArguments",
    "OperationInfo",
    "PermissionDenied",
    "RegisteredTool",
    "RegistryError",
    "ToolFailed",
    "ToolListing",
    "ToolMonitor",
    "ToolNotFound",
    "ToolRegistry",
    "ToolResult",
    "ToolStats",
    "ToolTimeout",
    "new_request_id",
]
