"""Adapter for Anthropic's messages wire format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic

from masterai.llm._sdk import SDKErrors, translate
from masterai.llm.base import SDKModel
from masterai.llm.openai_chat import parse_tool_arguments
from masterai.llm.providers import AnthropicProvider
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
    status=anthropic.APIStatusError,
    timeout=anthropic.APITimeoutError,
    connection=anthropic.APIConnectionError,
)

_TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
                "is_error": message.is_error,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(call.arguments)}
        for call in message.tool_calls
    )
    return blocks


def wire_messages(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    """``(system, messages)`` in Anthropic's shape.

    System messages become the ``system`` parameter; tool results travel in ``user`` turns;
    consecutive turns of one role are merged, because the API wants them alternating.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return system, wire


class AnthropicModel(SDKModel[AnthropicProvider]):
    """A model reached through Anthropic's messages API."""

    def _request_kwargs(self, request: ModelRequest) -> dict[str, Any]:
        system, messages = wire_messages(request.messages)
        kwargs: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "max_tokens": request.max_tokens or self.max_output_tokens,
        }
        if system:
            kwargs["system"] = system
        if request.tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
                for t in request.tools
            ]
            kwargs["tool_choice"] = _TOOL_CHOICE[request.tool_choice]
        if request.temperature is not None:
            # anthropic 2.x's create() has no temperature argument; the API takes the field.
            kwargs["extra_body"] = {"temperature": request.temperature}
        return kwargs

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (anthropic.AnthropicError, EgressError) as error:
            ours = translate(error, _ERRORS, model=self.name, endpoint=self.provider.base_url)
            if ours is None:
                raise
            raise ours from error

    async def _complete_once(self, request: ModelRequest) -> ModelResponse:
        with self._translated():
            message = await self.provider.client.messages.create(**self._request_kwargs(request))
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                raw = json.dumps(block.input)
                if isinstance(block.input, dict):
                    calls.append(
                        ToolCall(
                            id=block.id, name=block.name, arguments=block.input, raw_arguments=raw
                        )
                    )
                else:
                    calls.append(parse_tool_arguments(block.id, block.name, raw))
        return ModelResponse(
            text="".join(text),
            tool_calls=tuple(calls),
            usage=Usage(
                input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens
            ),
            finish_reason=message.stop_reason,
        )

    async def _stream_once(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        input_tokens = output_tokens = 0
        finish: str | None = None
        with self._translated():
            stream = await self.provider.client.messages.create(
                **self._request_kwargs(request), stream=True
            )
            try:
                async for event in stream:
                    if event.type == "message_start":
                        input_tokens = event.message.usage.input_tokens
                        output_tokens = event.message.usage.output_tokens
                    elif event.type == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            calls[event.index] = {"id": block.id, "name": block.name, "args": ""}
                    elif event.type == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            text.append(delta.text)
                            yield TextDelta(text=delta.text)
                        elif delta.type == "input_json_delta" and event.index in calls:
                            calls[event.index]["args"] += delta.partial_json
                    elif event.type == "message_delta":
                        output_tokens = event.usage.output_tokens
                        finish = event.delta.stop_reason or finish
            finally:
                await stream.close()
        tool_calls = tuple(
            parse_tool_arguments(c["id"], c["name"], c["args"]) for _, c in sorted(calls.items())
        )
        yield ResponseComplete(
            response=ModelResponse(
                text="".join(text),
                tool_calls=tool_calls,
                usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
                finish_reason=finish,
            )
        )
