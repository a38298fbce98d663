"""AI tool framework (seed 003), standard library only.

Everything public is re-exported here: ``from ai_tool import AITool, AIToolManager, ...``.
"""

from ai_tool.ai_tool import AITool
from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_checked_call import AIToolCheckedCall
from ai_tool.ai_tool_config import AIToolConfig
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_exceptions import (
    AIToolAuthorizationDenied,
    AIToolCancelledError,
    AIToolError,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolTimeoutError,
    AIToolUnavailableError,
    AIToolValidationError,
)
from ai_tool.ai_tool_manager import AIToolManager
from ai_tool.ai_tool_operation_definition import (
    AIToolAuthorizationCallback,
    AIToolOperationDefinition,
    AIToolOperationHandler,
)
from ai_tool.ai_tool_parameter import PARAMETER_TYPES, AIToolParameter
from ai_tool.ai_tool_registered import AIToolRegistered
from ai_tool.ai_tool_result import AIToolResult
from ai_tool.authorization import AIToolAuthorizationRequest, authorization_callback
from ai_tool.schema import (
    to_anthropic_tool,
    to_gemini_tool,
    to_mcp_tool,
    to_openai_tool,
    tool_json_schema,
)

__all__ = [
    "PARAMETER_TYPES",
    "AITool",
    "AIToolAuthorizationCallback",
    "AIToolAuthorizationDenied",
    "AIToolAuthorizationRequest",
    "AIToolCall",
    "AIToolCancelledError",
    "AIToolCheckedCall",
    "AIToolConfig",
    "AIToolDefinition",
    "AIToolError",
    "AIToolExecutionError",
    "AIToolManager",
    "AIToolNotFoundError",
    "AIToolOperationDefinition",
    "AIToolOperationHandler",
    "AIToolParameter",
    "AIToolRegistered",
    "AIToolResult",
    "AIToolTimeoutError",
    "AIToolUnavailableError",
    "AIToolValidationError",
    "authorization_callback",
    "to_anthropic_tool",
    "to_gemini_tool",
    "to_mcp_tool",
    "to_openai_tool",
    "tool_json_schema",
]
