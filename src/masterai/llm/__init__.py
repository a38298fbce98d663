"""The LLM layer: provider-neutral types, the ``Model`` contract, SDK adapters, selection.

Entry points: :func:`build_model` (from settings), :class:`ScriptedModel` (tests), and the
neutral types (:class:`Message`, :class:`ToolSpec`, :class:`ModelRequest`,
:class:`ModelResponse`).
"""

from masterai.llm.anthropic_messages import AnthropicModel
from masterai.llm.base import Model, RetryPolicy
from masterai.llm.errors import (
    LLMAuthenticationError,
    LLMBadRequestError,
    LLMConfigurationError,
    LLMConnectionError,
    LLMError,
    LLMModelNotFoundError,
    LLMProviderError,
    LLMQuotaError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)
from masterai.llm.openai_chat import OpenAIChatModel
from masterai.llm.providers import AnthropicProvider, OpenAICompatibleProvider
from masterai.llm.scripted import ScriptedModel, ScriptExhaustedError
from masterai.llm.selection import (
    NO_MODEL_MESSAGE,
    ModelSpec,
    build_model,
    configured_model,
    parse_model_spec,
)
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

__all__ = [
    "NO_MODEL_MESSAGE",
    "AnthropicModel",
    "AnthropicProvider",
    "LLMAuthenticationError",
    "LLMBadRequestError",
    "LLMConfigurationError",
    "LLMConnectionError",
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
    "parse_model_spec",
]
