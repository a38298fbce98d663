"""The LLM layer: provider-neutral types, the ``Model`` contract, SDK adapters, selection.

Entry points: :func:`build_model` (from settings), :class:`ScriptedModel` (tests), and the
neutral types (:class:`Message`, :class:`ToolSpec`, :class:`ModelRequest`,
:class:`ModelResponse`).
"""

from typing import TYPE_CHECKING, Any

from masterai.llm.base import Model, RetryPolicy
from masterai.llm.errors import (
    LLMAuthenticationError,
    LLMBadRequestError,
    LLMConfigurationError,
    LLMConnectionError,
    LLMEgressError,
    LLMError,
    LLMModelNotFoundError,
    LLMProviderError,
    LLMQuotaError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)
from masterai.llm.scripted import ScriptedModel, ScriptExhaustedError
from masterai.llm.selection import (
    NO_MODEL_MESSAGE,
    Endpoint,
    ModelSpec,
    build_model,
    configured_model,
    operator_endpoints,
    parse_model_spec,
    resolve_endpoint,
    scripted_path,
)
from masterai.llm.tools import tool_spec
from masterai.llm.types import (
    Message,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from masterai.llm.anthropic_messages import AnthropicModel
    from masterai.llm.openai_chat import OpenAIChatModel
    from masterai.llm.providers import AnthropicProvider, OpenAICompatibleProvider

# The SDK adapters are imported on first use: importing the SDKs takes seconds.
_LAZY = {
    "AnthropicModel": "masterai.llm.anthropic_messages",
    "AnthropicProvider": "masterai.llm.providers",
    "OpenAIChatModel": "masterai.llm.openai_chat",
    "OpenAICompatibleProvider": "masterai.llm.providers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'masterai.llm' has no attribute {name!r}")


__all__ = [
    "NO_MODEL_MESSAGE",
    "AnthropicModel",
    "AnthropicProvider",
    "Endpoint",
    "LLMAuthenticationError",
    "LLMBadRequestError",
    "LLMConfigurationError",
    "LLMConnectionError",
    "LLMEgressError",
    "LLMError",
    "LLMModelNotFoundError",
    "LLMProviderError",
    "LLMQuotaError",
    "LLMRateLimitError",
    "LLMServerError",
    "LLMTimeoutError",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSpec",
    "OpenAIChatModel",
    "OpenAICompatibleProvider",
    "ResponseComplete",
    "RetryPolicy",
    "ScriptExhaustedError",
    "ScriptedModel",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "build_model",
    "configured_model",
    "operator_endpoints",
    "parse_model_spec",
    "resolve_endpoint",
    "scripted_path",
    "tool_spec",
]
