"""Persistent sessions: a working directory kept across one principal's calls."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import pytest
from code_data_helpers import body, user

from masterai.registry import ExecutionContext, ToolRegistry
from masterai.registry.approval import ApprovalRequest
from masterai.sandbox import InvalidRequestError
from masterai.sandbox.sessions import SessionStore

ANN = user("ann", languages=frozenset({"bash", "python"}))
BOB = user("bob", languages=frozenset({"bash"}))


async def run(
    registry: ToolRegistry, code: str, context: ExecutionContext = ANN, **extra: Any
) -> dict[str, Any]:
    result = await registry.execute_tool(
        "code",
        {"operation": "execute_code", "language": "bash", "code": code, **extra},
        context,
    )
    assert result.ok, result.error
    out = body(result.content)["result"]
    assert isinstance(out, dict)
    return out


async def test_files_written_in_a_session_are_there_on_the_next_call(
    registry: ToolRegistry,
) -> None:
    await run(registry, "mkdir -p notes && echo first > notes/a.txt", session="s1")
    out = await run(registry, "cat notes/a.txt && echo second >> notes/a.txt", session="s1")
    assert out["output"] == "first\n"
    again = await run(registry, "cat notes/a.txt", session="s1")
    assert again["output"] == "first\nsecond\n"


async def test_processes_do_not_survive_between_calls(registry: ToolRegistry) -> None:
    await run(registry, "(sleep 300 &) ; echo $! > started", session="p")
    out = await run(registry, "pgrep -c sleep || true", session="p")
    assert out["output"].strip() == "0"


async def test_unchanged_session_files_are_not_returned_as_outputs(
    registry: ToolRegistry,
) -> None:
    await run(registry, "echo 1 > keep.txt", session="o")
    out = await run(registry, "echo 2 > new.txt", session="o")
    assert out["files"] == {"new.txt": 2}


async def test_a_session_belongs_to_one_principal(registry: ToolRegistry) -> None:
    await run(registry, "echo mine > secret.txt", session="shared-name")
    out = await run(registry, "ls", BOB, session="shared-name")
    assert out["output"] == ""


async def test_a_run_over_the_quota_is_not_saved_and_the_previous_files_stay(
    registry: ToolRegistry,
) -> None:
    await run(registry, "echo small > a.txt", session="q")
    out = await run(registry, "head -c 100000 /dev/zero > big.bin", session="q")
    assert "over the quota of 65536 bytes" in out["session_error"]
    after = await run(registry, "ls", session="q")
    assert after["output"] == "a.txt\n"


async def test_transform_data_sees_the_session_files(registry: ToolRegistry) -> None:
    await run(registry, "echo 5 > factor.txt", session="t")
    result = await registry.execute_tool(
        "code",
        {
            "operation": "transform_data",
            "data": [1, 2],
            "code": "result = [x * int(open('factor.txt').read()) for x in data]",
            "session": "t",
        },
        ANN,
    )
    assert result.ok, result.error
    assert body(result.content)["result"]["result"] == [5, 10]
    listing = await run(registry, "ls", session="t")
    assert listing["output"] == "factor.txt\n"  # the runner's own files are not kept


async def test_sessions_are_listed_and_deleted(registry: ToolRegistry) -> None:
    await run(registry, "echo 12345 > f", session="l1")
    listed = await registry.execute_tool("code", {"operation": "list_sessions"}, ANN)
    rows = body(listed.content)["result"]
    assert [(r["name"], r["files"], r["size"]) for r in rows] == [("l1", 1, 6)]
    asked: list[str] = []

    async def approve(request: ApprovalRequest) -> bool:
        asked.append(request.operation or "")
        return True

    deleted = await registry.execute_tool(
        "code",
        {"operation": "delete_session", "session": "l1"},
        dataclasses.replace(ANN, approver=approve),
    )
    assert deleted.ok, deleted.error
    assert asked == ["delete_session"]
    listed = await registry.execute_tool("code", {"operation": "list_sessions"}, ANN)
    assert body(listed.content)["result"] == []


async def test_a_bad_session_name_is_refused(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "code",
        {"operation": "execute_code", "language": "bash", "code": "ls", "session": "../x"},
        ANN,
    )
    assert not result.ok
    assert "Invalid session name: '../x'" in (result.error or "")


def test_unused_sessions_expire(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, quota=10, ttl=60.0, max_sessions=5)
    old = store.open("ann", "old")
    store.open("ann", "fresh")
    past = time.time() - 120
    os.utime(old.path / ".used", (past, past))
    assert [s.name for s in store.list("ann")] == ["fresh"]
    assert not old.path.exists()


def test_a_principal_has_at_most_max_sessions(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, quota=10, ttl=60.0, max_sessions=2)
    store.open("ann", "a")
    store.open("ann", "b")
    store.open("bob", "a")  # another owner's count is their own
    with pytest.raises(InvalidRequestError, match="at most 2"):
        store.open("ann", "c")
