"""Helpers of the custom-tools tests: a platform, ``registry`` calls, a tested tool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scripts_support import platform_over

from masterai.app import Platform
from masterai.registry import ExecutionContext, ToolResult, approve_all
from masterai.security import load_principal
from masterai.store import Database

UPPER = """
def run(args, ctx):
    return {"text": args["text"].upper(), "length": len(args["text"])}
"""
UPPER_TOOL: dict[str, Any] = {
    "name": "shout",
    "description": "Upper-case a text",
    "parameters": {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The text"}},
        "required": ["text"],
        "additionalProperties": False,
    },
    "code": UPPER,
    "output_schema": {
        "type": "object",
        "properties": {"text": {"type": "string"}, "length": {"type": "integer"}},
        "required": ["text", "length"],
    },
    "tests": [
        {"name": "hello", "arguments": {"text": "hi"}, "expected": {"text": "HI", "length": 2}},
        {"arguments": {"text": "abc"}, "assert": {"properties": {"length": {"const": 3}}}},
    ],
}


@contextmanager
def custom_platform(database: Database, tmp_path: Path, **jobs: Any) -> Iterator[Platform]:
    """The scripts tests' platform (admin, alice: admin of acme, vic: viewer of acme),
    checking the store for custom-tool changes on every lookup."""
    with platform_over(database, tmp_path, **jobs) as platform:
        platform.settings.custom_tools.refresh_ms = 0
        yield platform


def context(platform: Platform, who: str, *, approve: bool = True) -> ExecutionContext:
    """A call context as ``who`` (approving everything unless ``approve`` is false)."""
    principal = load_principal(platform.database, who)
    return ExecutionContext(principal=principal, approver=approve_all if approve else None)


async def registry(platform: Platform, who: str, operation: str, **args: Any) -> ToolResult:
    """One ``registry`` call as ``who`` (approvals granted)."""
    return await platform.call("registry", {"operation": operation, **args}, context(platform, who))


async def ready_tool(platform: Platform, who: str, spec: dict[str, Any]) -> None:
    """Create, test and activate ``spec`` as ``who``; fail loudly if a step fails."""
    for operation, args in (
        ("create_custom_tool", spec),
        ("test_custom_tool", {"name": spec["name"]}),
        ("activate_custom_tool", {"name": spec["name"], "version": 1}),
    ):
        result = await registry(platform, who, operation, **args)
        assert result.ok, (operation, result.status, result.error)
