"""A deterministic model that plays back a script: for agent tests, yours included.

Example:
    ```python
    model = ScriptedModel([
        ScriptedModel.call("clock", {"operation": "get_time"}),
        ScriptedModel.reply("It is noon."),
    ])
    ```
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from masterai.llm.errors import LLMConfigurationError, LLMError
from masterai.llm.pricing import cost_usd
from masterai.llm.types import (
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from masterai.settings import ModelPrice

ScriptStep = ModelResponse | Callable[[ModelRequest], ModelResponse]
"""A canned response, or a function computing one from the request it answers."""


class ScriptExhaustedError(LLMError):
    """The scripted model was called more often than its script has steps."""


def _estimate_usage(request: ModelRequest, response: ModelResponse) -> Usage:
    # ~4 characters per token: deterministic, and close enough for budget tests.
    prompt = sum(len(m.content) + len(str(m.tool_calls)) for m in request.messages)
    prompt += sum(len(json.dumps(dict(t.input_schema))) for t in request.tools)
    output = len(response.text) + sum(len(c.raw_arguments) for c in response.tool_calls)
    return Usage(input_tokens=prompt // 4 + 1, output_tokens=output // 4 + 1)


class ScriptedModel:
    """Answers each call with the next step of a script, and records every request.

    Responses without usage get a deterministic estimate (4 characters per token); cost is
    computed from ``price`` (free by default).
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        script: Iterable[ScriptStep],
        *,
        name: str = "scripted:model",
        price: ModelPrice | None = None,
        chunk_size: int = 8,
    ) -> None:
        self._script = list(script)
        self._name = name
        self._price = price or ModelPrice(input_per_mtok=0, output_per_mtok=0)
        self._chunk_size = max(1, chunk_size)
        self.requests: list[ModelRequest] = []
        """Every request received, in order."""

    @property
    def name(self) -> str:
        """``scripted:<name>``."""
        return self._name

    @property
    def remaining(self) -> int:
        """Script steps not played yet."""
        return len(self._script)

    def extend(self, steps: Iterable[ScriptStep]) -> None:
        """Append steps to the script."""
        self._script.extend(steps)

    @staticmethod
    def reply(text: str, *, usage: Usage | None = None) -> ModelResponse:
        """A plain text answer."""
        return ModelResponse(text=text, usage=usage or Usage(), finish_reason="stop")

    @classmethod
    def call(cls, name: str, arguments: Mapping[str, Any], *, text: str = "") -> ModelResponse:
        """An answer that calls one tool."""
        return cls.calls((name, arguments), text=text)

    @classmethod
    def calls(cls, *calls: tuple[str, Mapping[str, Any]], text: str = "") -> ModelResponse:
        """An answer that calls several tools at once (parallel tool calls)."""
        tool_calls = tuple(
            ToolCall(
                id=f"call_{next(cls._ids)}",
                name=name,
                arguments=dict(args),
                raw_arguments=json.dumps(dict(args)),
            )
            for name, args in calls
        )
        return ModelResponse(text=text, tool_calls=tool_calls, finish_reason="tool_calls")

    @classmethod
    def from_file(cls, path: Path) -> ScriptedModel:
        """Load a script from a JSON list of ``{"text", "tool_calls": [{"name", "arguments"}]}``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise LLMConfigurationError(
                f"cannot read model script {str(path)!r}: {error}"
            ) from error
        if not isinstance(data, list):
            raise LLMConfigurationError(f"model script {str(path)!r} must be a JSON list of steps")
        steps: list[ScriptStep] = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise LLMConfigurationError(f"model script step {index} must be an object")
            pairs = [(c["name"], c.get("arguments", {})) for c in item.get("tool_calls", [])]
            steps.append(
                cls.calls(*pairs, text=item.get("text", ""))
                if pairs
                else cls.reply(item.get("text", ""))
            )
        return cls(steps, name=f"scripted:{path.name}")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """The next scripted response."""
        self.requests.append(request)
        if not self._script:
            raise ScriptExhaustedError(
                f"scripted model {self._name!r} has no step left for call {len(self.requests)}"
            )
        step = self._script.pop(0)
        response = step(request) if callable(step) else step
        if response.usage == Usage():
            response = replace(response, usage=_estimate_usage(request, response))
        return replace(response, cost_usd=cost_usd(response.usage, self._price), model=self._name)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """The next scripted response, its text in ``chunk_size`` pieces."""
        response = await self.complete(request)
        for start in range(0, len(response.text), self._chunk_size):
            yield TextDelta(text=response.text[start : start + self._chunk_size])
        yield ResponseComplete(response=response)

    async def aclose(self) -> None:
        """Nothing to release."""
