"""Security regression file: every way out of the filesystem root must stay shut.

Add a case whenever a new escape is found; never remove one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ai_tool_helpers import AuthRecorder, run_tool

from ai_tool import AIToolValidationError
from ai_tool.filesystem import FilesystemAITool

SECRET = "top secret"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.txt").write_text("fine")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "linkfile.txt").symlink_to(outside / "secret.txt")
    (root / "inner_link.txt").symlink_to(root / "inside.txt")
    return root


@pytest.fixture
def fs(root: Path) -> FilesystemAITool:
    return FilesystemAITool(root)


def outside_untouched(root: Path) -> None:
    outside = root.parent / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == SECRET


ESCAPES = [
    ("read_file", {"path": "../outside/secret.txt"}, "path", "must not contain '..'"),
    ("read_file", {"path": "a/../../outside/secret.txt"}, "path", "must not contain '..'"),
    ("read_file", {"path": "/etc/passwd"}, "path", "got absolute path '/etc/passwd'"),
    ("read_file", {"path": "//etc/passwd"}, "path", "got absolute path"),
    ("read_file", {"path": "~/secret.txt"}, "path", "got absolute path"),
    ("read_file", {"path": "inside.txt\0.png"}, "path", "must not contain NUL bytes"),
    ("read_file", {"path": "linkdir/secret.txt"}, "path", "through a symbolic link"),
    ("read_file", {"path": "linkfile.txt"}, "path", "through a symbolic link"),
    ("list_directory", {"path": "linkdir"}, "path", "through a symbolic link"),
    ("search", {"path": "linkdir", "content": "secret"}, "path", "through a symbolic link"),
    ("get_info", {"path": "linkdir/secret.txt"}, "path", "through a symbolic link"),
    ("write_file", {"path": "linkdir/new.txt", "content": "x"}, "path", "symbolic link"),
    ("write_file", {"path": "linkfile.txt", "content": "x"}, "path", "symbolic link"),
    ("append_to_file", {"path": "linkfile.txt", "content": "x"}, "path", "symbolic link"),
    ("create_directory", {"path": "linkdir/sub"}, "path", "symbolic link"),
    ("delete", {"path": "linkdir/secret.txt"}, "path", "symbolic link"),
    ("delete", {"path": "../outside"}, "path", "'..'"),
    ("move", {"source": "inside.txt", "destination": "linkdir/x"}, "destination", "link"),
    ("move", {"source": "linkfile.txt", "destination": "mine.txt"}, "source", "link"),
    ("copy_file", {"source": "linkdir/secret.txt", "destination": "c"}, "source", "link"),
    ("copy_file", {"source": "inside.txt", "destination": "/tmp/x"}, "destination", "absolute"),
]


@pytest.mark.parametrize(
    ("operation", "arguments", "key", "message"), ESCAPES, ids=[f"{o}:{a}" for o, a, *_ in ESCAPES]
)
async def test_escapes_are_refused_before_anything_runs_or_anyone_is_asked(
    fs, root, operation, arguments, key, message
):
    auth = AuthRecorder(answer=True)
    with pytest.raises(AIToolValidationError) as caught:
        await run_tool(fs, auth, operation=operation, **arguments)
    assert message in str(caught.value)
    assert caught.value.path == key
    assert f"'{key}'" in str(caught.value)
    assert str(root.parent) not in str(caught.value)  # never leak host paths
    assert auth.requests == []
    outside_untouched(root)


async def test_content_search_skips_files_linking_outside(fs, root):
    result = await run_tool(fs, operation="search", content="secret")
    assert SECRET not in result
    assert result == "No matches"
    names = await run_tool(fs, operation="search", pattern="*.txt")
    assert names.splitlines() == ["inner_link.txt", "inside.txt", "linkfile.txt"]


async def test_links_that_stay_inside_the_root_work_and_deleting_one_keeps_its_target(fs, root):
    assert await run_tool(fs, operation="read_file", path="inner_link.txt") == "fine"
    await run_tool(fs, operation="delete", path="inner_link.txt")
    assert not (root / "inner_link.txt").is_symlink()
    assert (root / "inside.txt").read_text() == "fine"


async def test_a_root_reached_through_a_symlink_still_works(tmp_path, root):
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    fs = FilesystemAITool(alias)
    assert await run_tool(fs, operation="read_file", path="inside.txt") == "fine"
    with pytest.raises(AIToolValidationError):
        await run_tool(fs, operation="read_file", path="linkfile.txt")


async def test_the_recursive_delete_of_a_directory_holding_an_outward_link_keeps_the_target(
    fs, root
):
    (root / "sub").mkdir()
    os.symlink(root.parent / "outside", root / "sub" / "out")
    await run_tool(fs, operation="delete", path="sub", recursive=True)
    assert not (root / "sub").exists()
    outside_untouched(root)
