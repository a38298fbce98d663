"""Escape attempts against the workspace, on the real file system. This file only grows.

Each test plants what a hostile process (or a careless one) could put in the workspace —
links swapped in while a path is opened, a hard link to an outside file, a FIFO, a linked
area folder — and checks that nothing outside the workspace is ever read or written.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from masterai.security import Principal, role_defaults
from masterai.security.permissions import DataAccessPermissions
from masterai.security.workspace import (
    EntryKind,
    UnsafeWorkspaceFile,
    WorkspaceFileError,
    WorkspaceService,
)

ADA = Principal(
    name="ada",
    role="admin",
    permissions=dataclasses.replace(
        role_defaults("admin"),
        data_access=DataAccessPermissions(write_companies=frozenset({"acme"})),
    ),
)
SECRET = b"OUTSIDE SECRET"
READS = 200
MAX_ATTEMPTS = 100_000
"""Reads made at most while waiting to meet both the swapped and the unswapped state."""


@pytest.fixture
def workspace(tmp_path: Path) -> WorkspaceService:
    service = WorkspaceService(tmp_path / "workspace")
    service.write_bytes(ADA, "companies/acme/data/r.txt", b"inside", replace=False)
    return service


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "r.txt").write_bytes(SECRET)
    return folder


@pytest.fixture
def acme(workspace: WorkspaceService) -> Path:
    return workspace.root / "companies" / "acme"


@contextmanager
def swapping(swap: Callable[[], None]) -> Iterator[Callable[[], int]]:
    """Run ``swap`` in a loop in a thread until the caller is done; yields the swap count."""
    stop = threading.Event()
    count = 0

    def loop() -> None:
        nonlocal count
        while not stop.is_set():
            swap()
            count += 1
            time.sleep(0)  # yield the GIL: let reads also meet the unswapped state

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield lambda: count
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def read_while_swapping(workspace: WorkspaceService, path: str) -> Counter[str]:
    """Read ``path`` at least :data:`READS` times, until reads met both states of the swap."""
    seen: Counter[str] = Counter()
    for attempt in range(MAX_ATTEMPTS):
        try:
            seen[workspace.read_bytes(ADA, path).decode()] += 1
        except WorkspaceFileError as e:
            seen[type(e).__name__] += 1
        if attempt >= READS and seen["UnsafeWorkspaceFile"] and seen["inside"]:
            break
    return seen


def test_a_directory_swapped_for_a_link_during_reads_never_leaks(
    workspace: WorkspaceService, acme: Path, outside: Path
) -> None:
    (acme / "link").symlink_to(outside)

    def swap() -> None:
        os.rename(acme / "data", acme / "real")
        os.rename(acme / "link", acme / "data")
        os.rename(acme / "data", acme / "link")
        os.rename(acme / "real", acme / "data")

    with swapping(swap) as swaps:
        seen = read_while_swapping(workspace, "companies/acme/data/r.txt")
        assert swaps() > 0
    assert SECRET.decode() not in seen
    assert seen["inside"] > 0 and seen["UnsafeWorkspaceFile"] > 0


def test_a_file_swapped_for_a_link_during_reads_never_leaks(
    workspace: WorkspaceService, acme: Path, outside: Path
) -> None:
    data = acme / "data"
    (data / "link").symlink_to(outside / "r.txt")

    def swap() -> None:
        os.rename(data / "r.txt", data / "real")
        os.rename(data / "link", data / "r.txt")
        os.rename(data / "r.txt", data / "link")
        os.rename(data / "real", data / "r.txt")

    with swapping(swap) as swaps:
        seen = read_while_swapping(workspace, "companies/acme/data/r.txt")
        assert swaps() > 0
    assert SECRET.decode() not in seen
    assert seen["inside"] > 0 and seen["UnsafeWorkspaceFile"] > 0


def test_a_planted_hard_link_is_never_read_copied_appended_or_replaced(
    workspace: WorkspaceService, acme: Path, outside: Path
) -> None:
    os.link(outside / "r.txt", acme / "data" / "planted.txt")
    planted = "companies/acme/data/planted.txt"
    attempts: list[Callable[[], object]] = [
        lambda: workspace.read_bytes(ADA, planted),
        lambda: workspace.copy_file(ADA, planted, "companies/acme/copy.txt"),
        lambda: workspace.append_bytes(ADA, planted, b"more"),
        lambda: workspace.write_bytes(ADA, planted, b"new", replace=True),
    ]
    for attempt in attempts:
        with pytest.raises(UnsafeWorkspaceFile, match="2 hard links"):
            attempt()
    assert (outside / "r.txt").read_bytes() == SECRET
    assert not (acme / "copy.txt").exists()
    workspace.delete(ADA, planted)  # removing the planted name is allowed and harmless
    assert (outside / "r.txt").read_bytes() == SECRET


def test_nothing_is_written_through_a_link(
    workspace: WorkspaceService, acme: Path, outside: Path
) -> None:
    (acme / "escape").symlink_to(outside)
    (acme / "pointer").symlink_to(outside / "r.txt")
    with pytest.raises(UnsafeWorkspaceFile, match="'companies/acme/escape' is a symbolic link"):
        workspace.write_bytes(ADA, "companies/acme/escape/new.txt", b"x", replace=True)
    with pytest.raises(UnsafeWorkspaceFile, match="never writes through links"):
        workspace.write_bytes(ADA, "companies/acme/pointer", b"x", replace=True)
    with pytest.raises(UnsafeWorkspaceFile):
        workspace.make_directory(ADA, "companies/acme/escape/sub")
    assert sorted(p.name for p in outside.iterdir()) == ["r.txt"]
    assert (outside / "r.txt").read_bytes() == SECRET


def test_a_link_is_listed_but_never_walked_into(
    workspace: WorkspaceService, acme: Path, outside: Path
) -> None:
    (acme / "escape").symlink_to(outside)
    walked = {e.path: e.kind for e in workspace.walk(ADA, "companies/acme")}
    assert walked == {
        "companies/acme/data": EntryKind.DIRECTORY,
        "companies/acme/data/r.txt": EntryKind.FILE,
        "companies/acme/escape": EntryKind.SYMLINK,
    }


def test_a_linked_area_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "other-workspace"
    (outside / "acme").mkdir()
    (outside / "acme" / "r.txt").write_bytes(SECRET)
    root.mkdir()
    (root / "companies").symlink_to(outside)
    workspace = WorkspaceService(root)
    with pytest.raises(UnsafeWorkspaceFile, match="'companies' is a symbolic link"):
        workspace.read_bytes(ADA, "companies/acme/r.txt")
    with pytest.raises(UnsafeWorkspaceFile):
        workspace.write_bytes(ADA, "companies/acme/new.txt", b"x", replace=False)
    assert sorted(p.name for p in (outside / "acme").iterdir()) == ["r.txt"]


def test_a_planted_fifo_is_refused_without_blocking(
    workspace: WorkspaceService, acme: Path
) -> None:
    os.mkfifo(acme / "data" / "pipe")
    with pytest.raises(WorkspaceFileError, match="is not a regular file"):
        workspace.read_bytes(ADA, "companies/acme/data/pipe")
