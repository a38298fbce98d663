"""The filesystem reference tool: every operation, size limits, authorization."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ai_tool_helpers import AuthRecorder, run_tool

from ai_tool import AIToolAuthorizationDenied, AIToolExecutionError, AIToolValidationError
from ai_tool.filesystem import FilesystemAITool


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text("alpha\nbeta needle\n")
    (root / "docs" / "b.md").write_text("needle in markdown\n")
    (root / "top.txt").write_text("top")
    return root


@pytest.fixture
def fs(root: Path) -> FilesystemAITool:
    return FilesystemAITool(root, max_file_size=100, max_list_entries=3, max_search_results=3)


async def test_read_file_returns_text(fs):
    assert await run_tool(fs, operation="read_file", path="docs/a.txt") == "alpha\nbeta needle\n"


async def test_write_creates_parents_and_replaces_atomically(fs, root, allow: AuthRecorder):
    assert (
        await run_tool(fs, allow, operation="write_file", path="new/deep/f.txt", content="hé")
        == "Wrote 3 bytes to 'new/deep/f.txt'"
    )
    assert (root / "new/deep/f.txt").read_text() == "hé"
    await run_tool(fs, allow, operation="write_file", path="top.txt", content="replaced")
    assert (root / "top.txt").read_text() == "replaced"
    assert sorted(p.name for p in root.iterdir()) == ["docs", "new", "top.txt"]  # no temp files
    assert [r[4] for r in allow.requests] == [True, True]  # write is destructive


async def test_write_without_create_parents_refuses_missing_directories(fs, root):
    with pytest.raises(AIToolExecutionError, match=re.escape("Directory 'nope' does not exist")):
        await run_tool(fs, operation="write_file", path="nope/f", content="x", create_parents=False)
    assert not (root / "nope").exists()


async def test_size_limits_apply_to_read_write_append_and_copy(fs, root):
    (root / "big.bin").write_bytes(b"x" * 101)
    with pytest.raises(
        AIToolExecutionError, match=re.escape("'big.bin' would be 101 bytes; the limit is 100")
    ):
        await run_tool(fs, operation="read_file", path="big.bin")
    with pytest.raises(AIToolExecutionError, match=re.escape("'w.txt' would be 101 bytes")):
        await run_tool(fs, operation="write_file", path="w.txt", content="y" * 101)
    assert not (root / "w.txt").exists()
    with pytest.raises(AIToolExecutionError, match=re.escape("'top.txt' would be 101 bytes")):
        await run_tool(fs, operation="append_to_file", path="top.txt", content="z" * 98)
    assert (root / "top.txt").read_text() == "top"
    with pytest.raises(AIToolExecutionError, match=re.escape("'big.bin' would be 101 bytes")):
        await run_tool(fs, operation="copy_file", source="big.bin", destination="copy.bin")
    assert not (root / "copy.bin").exists()


async def test_append_adds_text_after_asking_without_the_destructive_flag(fs, root, allow):
    await run_tool(fs, allow, operation="append_to_file", path="top.txt", content="+more")
    await run_tool(fs, allow, operation="append_to_file", path="fresh.txt", content="new")
    assert (root / "top.txt").read_text() == "top+more"
    assert (root / "fresh.txt").read_text() == "new"
    assert [(r[0], r[3], r[4]) for r in allow.requests] == [
        ("filesystem", "path 'top.txt'", False),
        ("filesystem", "path 'fresh.txt'", False),
    ]


async def test_list_directory_marks_types_and_truncates(fs, root):
    (root / "docs" / "c.txt").write_text("c")
    (root / "docs" / "d").mkdir()
    listing = await run_tool(fs, operation="list_directory", path="docs")
    assert listing.splitlines() == [
        "a.txt (18 bytes)",
        "b.md (19 bytes)",
        "c.txt (1 bytes)",
        "... and 1 more",
    ]
    assert await run_tool(fs, operation="list_directory") == "docs/\ntop.txt (3 bytes)"
    (root / "empty").mkdir()
    assert await run_tool(fs, operation="list_directory", path="empty") == "(empty directory)"


async def test_create_directory_makes_parents_and_refuses_existing_paths(fs, root):
    assert await run_tool(fs, operation="create_directory", path="x/y") == "Created directory 'x/y'"
    assert (root / "x" / "y").is_dir()
    with pytest.raises(AIToolExecutionError, match=re.escape("'x/y' already exists")):
        await run_tool(fs, operation="create_directory", path="x/y")


async def test_delete_files_empty_directories_and_trees(fs, root, allow):
    await run_tool(fs, allow, operation="delete", path="top.txt")
    assert not (root / "top.txt").exists()
    with pytest.raises(
        AIToolExecutionError, match=re.escape("Directory 'docs' is not empty; pass recursive=true")
    ):
        await run_tool(fs, allow, operation="delete", path="docs")
    await run_tool(fs, allow, operation="delete", path="docs", recursive=True)
    assert list(root.iterdir()) == []
    with pytest.raises(AIToolExecutionError, match=re.escape("'docs' does not exist")):
        await run_tool(fs, allow, operation="delete", path="docs")
    with pytest.raises(AIToolExecutionError, match=re.escape("root itself cannot be deleted")):
        await run_tool(fs, allow, operation="delete", path=".")
    assert root.is_dir()


@pytest.mark.parametrize("operation", ["delete", "move", "write_file"])
async def test_refused_destructive_operations_change_nothing(fs, root, deny, operation):
    arguments = {
        "delete": {"path": "top.txt"},
        "move": {"source": "top.txt", "destination": "moved.txt"},
        "write_file": {"path": "top.txt", "content": "gone"},
    }[operation]
    with pytest.raises(AIToolAuthorizationDenied):
        await run_tool(fs, deny, operation=operation, **arguments)
    assert (root / "top.txt").read_text() == "top"
    assert not (root / "moved.txt").exists()
    assert deny.requests[0][4] is True


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("append_to_file", {"path": "top.txt", "content": "x"}),
        ("create_directory", {"path": "newdir"}),
        ("copy_file", {"source": "top.txt", "destination": "copy.txt"}),
    ],
)
async def test_refused_non_destructive_changes_change_nothing(fs, root, deny, operation, arguments):
    with pytest.raises(
        AIToolAuthorizationDenied, match=re.escape(f"denied for filesystem {operation}")
    ):
        await run_tool(fs, deny, operation=operation, **arguments)
    assert sorted(p.name for p in root.iterdir()) == ["docs", "top.txt"]
    assert (root / "top.txt").read_text() == "top"


async def test_read_only_operations_never_ask(fs, deny):
    await run_tool(fs, deny, operation="read_file", path="top.txt")
    await run_tool(fs, deny, operation="list_directory")
    await run_tool(fs, deny, operation="get_info", path="top.txt")
    await run_tool(fs, deny, operation="search", pattern="*.txt")
    assert deny.requests == []


async def test_move_and_copy_refuse_to_overwrite(fs, root):
    assert (
        await run_tool(fs, operation="move", source="top.txt", destination="docs/top.txt")
        == "Moved 'top.txt' to 'docs/top.txt'"
    )
    assert (root / "docs/top.txt").read_text() == "top"
    await run_tool(fs, operation="copy_file", source="docs/top.txt", destination="again.txt")
    assert (root / "again.txt").read_text() == "top"
    with pytest.raises(AIToolExecutionError, match=re.escape("'again.txt' already exists")):
        await run_tool(fs, operation="copy_file", source="docs/a.txt", destination="again.txt")
    with pytest.raises(AIToolExecutionError, match=re.escape("Cannot move 'docs' into itself")):
        await run_tool(fs, operation="move", source="docs", destination="docs/inner")
    with pytest.raises(AIToolExecutionError, match=re.escape("'docs' is not a file")):
        await run_tool(fs, operation="copy_file", source="docs", destination="docs2")
    with pytest.raises(AIToolExecutionError, match=re.escape("Directory 'no' does not exist")):
        await run_tool(fs, operation="copy_file", source="again.txt", destination="no/x")


async def test_get_info_describes_files_and_directories(fs):
    info = json.loads(await run_tool(fs, operation="get_info", path="top.txt"))
    assert (info["path"], info["type"], info["size"]) == ("top.txt", "file", 3)
    assert info["permissions"].startswith("-r")
    assert json.loads(await run_tool(fs, operation="get_info", path="docs"))["type"] == "directory"


async def test_search_by_name_and_by_content(fs, root):
    assert await run_tool(fs, operation="search", pattern="*.txt") == "top.txt\ndocs/a.txt"
    assert await run_tool(fs, operation="search", path="docs", content="needle") == (
        "docs/a.txt:2: beta needle\ndocs/b.md:1: needle in markdown"
    )
    assert await run_tool(fs, operation="search", pattern="*.py") == "No matches"
    for i in range(5):
        (root / f"n{i}.log").write_text("x")
    assert (await run_tool(fs, operation="search", pattern="*.log")).splitlines()[-1] == (
        "(stopped at 3 results)"
    )


async def test_reading_errors_are_clear(fs, root):
    (root / "latin.txt").write_bytes(b"caf\xe9")
    with pytest.raises(
        AIToolExecutionError, match=re.escape("'latin.txt' is not valid utf-8 text")
    ):
        await run_tool(fs, operation="read_file", path="latin.txt")
    assert await run_tool(fs, operation="read_file", path="latin.txt", encoding="latin-1") == "café"
    with pytest.raises(AIToolValidationError, match=re.escape("Unknown encoding 'klingon'")):
        await run_tool(fs, operation="read_file", path="latin.txt", encoding="klingon")
    with pytest.raises(AIToolExecutionError, match=re.escape("'docs' is not a file")):
        await run_tool(fs, operation="read_file", path="docs")
    with pytest.raises(AIToolExecutionError, match=re.escape("'missing' does not exist")):
        await run_tool(fs, operation="read_file", path="missing")
    with pytest.raises(AIToolExecutionError, match=re.escape("'top.txt' is not a directory")):
        await run_tool(fs, operation="list_directory", path="top.txt")


def test_operation_flags_match_what_each_operation_does(fs):
    ops = fs.get_operation_definitions()
    assert sorted(n for n, op in ops.items() if op.read_only) == [
        "get_info", "list_directory", "read_file", "search",
    ]  # fmt: skip
    assert sorted(n for n, op in ops.items() if op.destructive) == ["delete", "move", "write_file"]


def test_the_constructor_touches_nothing(tmp_path):
    FilesystemAITool(tmp_path / "does-not-exist-yet")
    assert list(tmp_path.iterdir()) == []


async def test_writes_keep_the_mode_of_replaced_files_and_give_new_ones_0644(fs, root):
    (root / "top.txt").chmod(0o600)
    await run_tool(fs, operation="write_file", path="top.txt", content="new")
    await run_tool(fs, operation="append_to_file", path="top.txt", content="+")
    await run_tool(fs, operation="write_file", path="fresh.txt", content="x")
    assert (root / "top.txt").stat().st_mode & 0o777 == 0o600
    assert (root / "top.txt").read_text() == "new+"
    assert (root / "fresh.txt").stat().st_mode & 0o777 == 0o644


async def test_search_stops_after_looking_at_max_search_files(root):
    fs = FilesystemAITool(root, max_search_files=2)
    result = await run_tool(fs, operation="search", pattern="*.nothing")
    assert result == "(stopped after looking at 2 files)"


async def test_os_errors_are_reported_with_root_relative_paths(fs, root):
    with pytest.raises(AIToolExecutionError) as caught:
        await run_tool(fs, operation="write_file", path="top.txt/child.txt", content="x")
    assert str(caught.value) == "write_file failed: File exists ('top.txt')"
    assert str(root) not in str(caught.value)


async def test_an_empty_search_pattern_is_rejected(fs):
    with pytest.raises(AIToolValidationError, match="'pattern' must not be empty"):
        await run_tool(fs, operation="search", pattern="")
