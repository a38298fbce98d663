"""Provider-neutral values exchanged with every model: messages, tools, responses, usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A tool the model may call, described by a JSON Schema of its input object."""

    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """One tool call requested by the model."""

    id: str
    name: str
    arguments: Mapping[str, Any]
    """Parsed arguments; empty when ``arguments_error`` is set."""
    raw_arguments: str = ""
    """The arguments exactly as the model produced them (JSON text)."""
    arguments_error: str | None = None
    """Why ``raw_arguments`` could not be parsed into an object, if it could not."""


@dataclass(frozen=True, kw_only=True)
class Message:
    """One message of a conversation.

    ``assistant`` messages may carry ``tool_calls``; ``tool`` messages answer one call
    (``tool_call_id``) and may flag an error (``is_error``).
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False

    @classmethod
    def system(cls, content: str) -> Message:
        """A system (instructions) message."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        """A user message."""
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        """An assistant message, optionally with tool calls."""
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, tool_call_id: str, content: str, *, is_error: bool = False) -> Message:
        """The result of one tool call."""
        return cls(role="tool", content=content, tool_call_id=tool_call_id, is_error=is_error)


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Tokens spent by one call."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


ToolChoice = Literal["auto", "none", "required"]


@dataclass(frozen=True, kw_only=True)
class ModelRequest:
    """Everything one model call needs."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    max_tokens: int | None = None
    """Output-token cap; ``None`` uses the settings' ``max_output_tokens``."""
    temperature: float | None = None


@dataclass(frozen=True, kw_only=True)
class ModelResponse:
    """The model's answer: text and/or tool calls, with what it cost."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    """USD for this call from the price table; ``None`` when the model has no price."""
    model: str = ""
    finish_reason: str | None = None

    def as_message(self) -> Message:
        """This response as the assistant message to append to the conversation."""
        return Message.assistant(self.text, self.tool_calls)


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, kw_only=True)
class ResponseComplete:
    """The last stream event: the whole response, as ``complete()`` would return it."""

    response: ModelResponse


StreamEvent = TextDelta | ResponseComplete
