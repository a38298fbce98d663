"""Adapter for the OpenAI chat-completions wire format (OpenAI, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import openai

from masterai.llm._sdk import SDKErrors, translate
from masterai.llm.base import SDKModel
from masterai.llm.providers import OpenAICompatibleProvider
from masterai.llm.types import (
    Message,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from masterai.security.egress import EgressError

_ERRORS = SDKErrors(
    status=openai.APIStatusError,
    timeout=openai.APITimeoutError,
    connection=openai.APIConnectionError,
)


def parse_tool_arguments(call_id: str, name: str, raw: str) -> ToolCall:
    """A :class:`ToolCall` from JSON argument text; malformed text is kept and flagged."""
    if not raw.strip():
        return ToolCall(id=call_id, name=name, arguments={}, raw_arguments=raw)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        problem = f"arguments are not valid JSON ({error.msg} at position {error.pos}): {raw!r}"
        return ToolCall(
            id=call_id, name=name, arguments={}, raw_arguments=raw, arguments_error=problem
        )
    if not isinstance(value, dict):
        problem = f"arguments must be a JSON object, got {type(value).__name__}: {raw!r}"
        return ToolCall(
            id=call_id, name=name, arguments={}, raw_arguments=raw, arguments_error=problem
        )
    return ToolCall(id=call_id, name=name, arguments=value, raw_arguments=raw)


def _wire_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.raw_arguments or json.dumps(dict(call.arguments)),
                },
            }
            for call in message.tool_calls
        ]
    return wire


class OpenAIChatModel(SDKModel[OpenAICompatibleProvider]):
    """A model reached through the OpenAI chat-completions API."""

    def _request_kwargs(self, request: ModelRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model_name,
            "messages": [_wire_message(m) for m in request.messages],
        }
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": dict(t.input_schema),
                    },
                }
                for t in request.tools
            ]
            kwargs["tool_choice"] = request.tool_choice
        if request.max_tokens is not None:
            # OpenAI renamed the field; compatible servers still read the old name.
            key = "max_completion_tokens" if self.provider_name == "openai" else "max_tokens"
            kwargs[key] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        return kwargs

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (openai.OpenAIError, EgressError) as error:
            ours = translate(error, _ERRORS, model=self.name, endpoint=self.provider.base_url)
            if ours is None:
                raise
            raise ours from error

    async def _complete_once(self, request: ModelRequest) -> ModelResponse:
        with self._translated():
            completion = await self.provider.client.chat.completions.create(
                **self._request_kwargs(request)
            )
        choice = completion.choices[0]
        calls = tuple(
            parse_tool_arguments(tc.id, tc.function.name, tc.function.arguments or "")
            for tc in (choice.message.tool_calls or [])
            if tc.type == "function"
        )
        usage = Usage(
            input_tokens=completion.usage.prompt_tokens if completion.usage else 0,
            output_tokens=completion.usage.completion_tokens if completion.usage else 0,
        )
        return ModelResponse(
            text=choice.message.content or "",
            tool_calls=calls,
            usage=usage,
            finish_reason=choice.finish_reason,
        )

    async def _stream_once(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        finish: str | None = None
        with self._translated():
            stream = await self.provider.client.chat.completions.create(
                **self._request_kwargs(request),
                stream=True,
                stream_options={"include_usage": True},
            )
            try:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = Usage(
                            input_tokens=chunk.usage.prompt_tokens,
                            output_tokens=chunk.usage.completion_tokens,
                        )
                    for choice in chunk.choices:
                        finish = choice.finish_reason or finish
                        delta = choice.delta
                        for part in delta.tool_calls or []:
                            slot = calls.setdefault(part.index, {"id": "", "name": "", "args": ""})
                            slot["id"] = part.id or slot["id"]
                            if part.function is not None:
                                slot["name"] += part.function.name or ""
                                slot["args"] += part.function.arguments or ""
                        if delta.content:
                            text.append(delta.content)
                            yield TextDelta(text=delta.content)
            finally:
                await stream.close()
        tool_calls = tuple(
            parse_tool_arguments(c["id"], c["name"], c["args"]) for _, c in sorted(calls.items())
        )
        yield ResponseComplete(
            response=ModelResponse(
                text="".join(text), tool_calls=tool_calls, usage=usage, finish_reason=finish
            )
        )
