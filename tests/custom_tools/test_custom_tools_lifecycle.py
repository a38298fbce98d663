"""Create, test, activate with approval, call: through the registry, HTTP and MCP listings."""

from __future__ import annotations

from pathlib import Path

import pytest
from custom_support import UPPER_TOOL, context, custom_platform, ready_tool, registry
from scripts_support import result_of

from masterai.registry import ApprovalRequest
from masterai.store import Database


async def test_an_activated_tool_is_called_by_its_own_name_with_plain_arguments(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", UPPER_TOOL)

        result = await platform.call("shout", {"text": "hey"}, context(platform, "alice"))

        assert result_of(result) == {"text": "HEY", "length": 3}
