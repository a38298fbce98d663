"""A small operation-based tool for agent tests: notes per company, with a failing operation."""

from __future__ import annotations

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


class NotesTool(AITool):
    """Keeps notes per company in memory (what the tests inspect)."""

    def __init__(self) -> None:
        super().__init__()
        self.notes: dict[str, list[str]] = {}

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations(
            name="notes",
            description_prefix="Notes kept per company.",
            additional_parameters=[
                AIToolParameter("company_id", "string", "Company id", role=ParameterRole.COMPANY),
                AIToolParameter("text", "string", "Note text", required=False),
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {
            "list": AIToolOperationDefinition(
                "list",
                self._list,
                None,
                {"company_id"},
                {"company_id"},
                "List notes",
                read_only=True,
            ),
            "add": AIToolOperationDefinition(
                "add",
                self._add,
                None,
                {"company_id", "text"},
                {"company_id", "text"},
                "Add a note",
                destructive=True,
            ),
            "fail": AIToolOperationDefinition(
                "fail",
                self._fail,
                None,
                {"company_id"},
                {"company_id"},
                "Always fails",
                read_only=True,
            ),
        }

    async def _list(self, call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
        notes = self.notes.get(call.arguments["company_id"], [])
        return AIToolResult(
            id=call.id, name="notes", content=json.dumps({"count": len(notes), "notes": notes})
        )

    async def _add(self, call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
        self.notes.setdefault(call.arguments["company_id"], []).append(call.arguments["text"])
        return AIToolResult(id=call.id, name="notes", content="added")

    async def _fail(self, call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
        raise AIToolExecutionError("the notes backend is down")


class GraderTool(AITool):
    """A read-only operation that (in real life) would call a model: it spends, changes nothing."""

    model_operations = frozenset({"grade"})

    def __init__(self, cost_usd: float = 0.0) -> None:
        super().__init__()
        self.cost_usd = cost_usd
        self.graded: list[str] = []

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations(
            name="grader",
            description_prefix="Grades a company's answers with a model.",
            additional_parameters=[
                AIToolParameter("company_id", "string", "Company id", role=ParameterRole.COMPANY)
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {
            "grade": AIToolOperationDefinition(
                "grade",
                self._grade,
                None,
                {"company_id"},
                {"company_id"},
                "Grade answers (calls a model)",
                read_only=True,
            )
        }

    async def _grade(self, call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
        self.graded.append(call.arguments["company_id"])
        content = {"summary": "graded", "result": {}, "cost_usd": self.cost_usd}
        return AIToolResult(id=call.id, name="grader", content=json.dumps(content))
