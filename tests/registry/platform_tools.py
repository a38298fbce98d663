"""Small tools shaped like the real configuration/analytics tools, for registry tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ai_tool import (
    AITool,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.security import ParameterRole


class _OpsTool(AITool):
    name = "?"
    parameters: list[AIToolParameter] = []

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations(
            self.name, f"The {self.name} tool.", self.parameters
        )

    def _op(
        self, name: str, allowed: set[str], required: set[str], **flags: Any
    ) -> AIToolOperationDefinition:
        async def handler(call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
            return await self.handle(name, call)

        return AIToolOperationDefinition(
            name, handler, None, allowed, required, f"{name} op", **flags
        )

    async def handle(self, operation: str, call: AIToolCall) -> AIToolResult:
        args = {k: v for k, v in call.arguments.items() if k != "operation"}
        return AIToolResult(
            id=call.id, name=self.name, content=json.dumps({"op": operation, "args": args})
        )


class ConfigurationTool(_OpsTool):
    name = "configuration"
    parameters = [
        AIToolParameter("company_id", "string", "Company", role=ParameterRole.COMPANY),
        AIToolParameter(
            "source_company_id", "string", "Copy from", role=ParameterRole.READ_COMPANY
        ),
        AIToolParameter("target_company_id", "string", "Copy to", role=ParameterRole.COMPANY),
        AIToolParameter("model", "string", "Model name", required=False, role=ParameterRole.MODEL),
        AIToolParameter("api_key", "string", "Provider key", required=False, sensitive=True),
        AIToolParameter(
            "provider_token", "string", "Another secret", required=False, sensitive=True
        ),
    ]

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {
            "get": self._op("get", {"company_id"}, {"company_id"}, read_only=True),
            "update": self._op(
                "update", {"company_id", "model", "api_key", "provider_token"}, {"company_id"}
            ),
            "copy": self._op(
                "copy",
                {"source_company_id", "target_company_id"},
                {"source_company_id", "target_company_id"},
            ),
        }


class AnalyticsTool(_OpsTool):
    name = "analytics"
    parameters = [
        AIToolParameter(
            "company_ids",
            "array",
            "Companies",
            items=AIToolParameter("id", "string", "id"),
            role=ParameterRole.COMPANY,
        )
    ]

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {"summary": self._op("summary", {"company_ids"}, {"company_ids"}, read_only=True)}


class SlowTool(_OpsTool):
    """``wait`` sleeps until cancelled; ``fail`` reports an error; ``crash`` has a bug."""

    name = "slow"
    parameters = [AIToolParameter("seconds", "number", "How long", required=False)]

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {
            "wait": self._op("wait", {"seconds"}, set(), read_only=True),
            "fail": self._op("fail", set(), set(), read_only=True),
            "error_result": self._op("error_result", set(), set(), read_only=True),
        }

    async def handle(self, operation: str, call: AIToolCall) -> AIToolResult:
        if operation == "wait":
            await asyncio.sleep(call.arguments.get("seconds", 3600))
        if operation == "fail":
            raise AIToolExecutionError("the backend said no")
        if operation == "error_result":
            return AIToolResult(id=call.id, name=self.name, content="", error="quota exhausted")
        return AIToolResult(id=call.id, name=self.name, content="done")


class SleepyCodeTool(_OpsTool):
    """A code-category tool whose ``run`` sleeps ``seconds`` (honouring its ``timeout``)."""

    name = "sleepy"
    parameters = [
        AIToolParameter("seconds", "number", "How long"),
        AIToolParameter(
            "timeout", "number", "Limit in seconds", required=False, role=ParameterRole.TIME_LIMIT
        ),
    ]

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {"run": self._op("run", {"seconds", "timeout"}, {"seconds"})}

    async def handle(self, operation: str, call: AIToolCall) -> AIToolResult:
        await asyncio.sleep(call.arguments["seconds"])
        return AIToolResult(id=call.id, name=self.name, content="slept")


class BuggyLegacyTool(AITool):
    """A legacy tool (overrides execute) with a programming error."""

    def get_definition(self) -> AIToolDefinition:
        return AIToolDefinition(name="buggy", description="Breaks.", parameters=[])

    async def execute(
        self, tool_call: AIToolCall, requester_ref: Any, request_authorization: Any
    ) -> AIToolResult:
        raise KeyError("missing")
