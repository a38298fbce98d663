"""The workspace service's rules: areas, company permissions, privacy, atomic writes."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from masterai.security import Principal, role_defaults, system_principal
from masterai.security.permissions import DataAccessPermissions
from masterai.security.workspace import (
    Access,
    Area,
    EntryKind,
    WorkspaceAccessDenied,
    WorkspaceFileError,
    WorkspaceFileExists,
    WorkspacePathError,
    WorkspaceService,
    as_principal,
)

ROOT = system_principal("root")


def person(
    name: str, role: str, *, read: frozenset[str] = frozenset(), write: frozenset[str] = frozenset()
) -> Principal:
    permissions = dataclasses.replace(
        role_defaults(role),
        data_access=DataAccessPermissions(
            read_companies=frozenset(read), write_companies=frozenset(write)
        ),
    )
    return Principal(name=name, role=role, permissions=permissions)


VERA = person("vera", "viewer", read=frozenset({"acme"}))
ADA = person("ada", "admin", write=frozenset({"acme"}))
NOBODY = person("nemo", "viewer")


@pytest.fixture
def workspace(tmp_path: Path) -> WorkspaceService:
    return WorkspaceService(tmp_path / "workspace")


@pytest.fixture
def files(workspace: WorkspaceService) -> WorkspaceService:
    """A workspace with one file in each company, the shared area and two user folders."""
    for path in (
        "companies/acme/data.txt",
        "companies/globex/data.txt",
        "shared/data.txt",
        "users/vera/data.txt",
        "users/ada/data.txt",
    ):
        owner = {"vera": VERA, "ada": ADA}.get(path.split("/")[1], ROOT)
        workspace.write_bytes(owner, path, path.encode(), replace=False)
    return workspace


def names(workspace: WorkspaceService, who: Principal, path: str = ".") -> list[str]:
    return [e.name for e in workspace.list_directory(who, path)]


def test_the_root_lists_only_the_areas_the_principal_may_see(files: WorkspaceService) -> None:
    assert names(files, ROOT) == ["companies", "shared", "users"]
    assert names(files, VERA) == ["companies", "shared", "users"]
    assert names(files, NOBODY) == ["shared", "users"]
    assert files.visible_areas(NOBODY) == [Area.SHARED, Area.USERS]


def test_company_folders_are_listed_only_for_readable_companies(files: WorkspaceService) -> None:
    assert names(files, ROOT, "companies") == ["acme", "globex"]
    assert names(files, VERA, "companies") == ["acme"]
    assert names(files, NOBODY, "companies") == []


def test_users_see_only_their_own_folder_and_super_admins_no_other(
    files: WorkspaceService,
) -> None:
    assert names(files, VERA, "users") == ["vera"]
    assert names(files, ROOT, "users") == []
    with pytest.raises(WorkspaceAccessDenied, match="private to user 'vera'"):
        files.read_bytes(ROOT, "users/vera/data.txt")
    with pytest.raises(WorkspaceAccessDenied, match="private to user 'ada'"):
        files.read_bytes(VERA, "users/ada/data.txt")
    assert files.read_bytes(VERA, "users/vera/data.txt") == b"users/vera/data.txt"


def test_company_files_follow_read_and_write_permissions(files: WorkspaceService) -> None:
    assert files.read_bytes(VERA, "companies/acme/data.txt") == b"companies/acme/data.txt"
    with pytest.raises(WorkspaceAccessDenied, match="no read access to company 'globex'"):
        files.read_bytes(VERA, "companies/globex/data.txt")
    with pytest.raises(WorkspaceAccessDenied, match="no write access to company 'acme'"):
        files.write_bytes(VERA, "companies/acme/new.txt", b"x", replace=False)
    assert files.write_bytes(ADA, "companies/acme/new.txt", b"x", replace=False) is False
    with pytest.raises(WorkspaceAccessDenied, match="no write access to company 'globex'"):
        files.write_bytes(ADA, "companies/globex/new.txt", b"x", replace=False)


def test_shared_is_read_by_everyone_and_written_by_super_admins(files: WorkspaceService) -> None:
    assert files.read_bytes(NOBODY, "shared/data.txt") == b"shared/data.txt"
    with pytest.raises(WorkspaceAccessDenied, match="only super admins may write in 'shared/'"):
        files.write_bytes(ADA, "shared/new.txt", b"x", replace=False)
    files.write_bytes(ROOT, "shared/new.txt", b"x", replace=False)


@pytest.mark.parametrize(
    "path", [".", "companies", "users", "shared", "companies/acme", "users/ada"]
)
def test_the_root_and_area_and_owner_folders_are_never_written(
    files: WorkspaceService, path: str
) -> None:
    with pytest.raises(WorkspaceAccessDenied, match="is a workspace folder"):
        files.delete(ROOT if not path.startswith("users") else ADA, path, recursive=True)
    assert (files.root / path).is_dir()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside.txt", "must not contain '..'"),
        ("companies/acme/../../x", "must not contain '..'"),
        ("/etc/passwd", "must be relative"),
        ("~/x", "must be relative"),
        ("companies/acme/a\0b", "must not contain NUL bytes"),
        ("reports/x.html", "outside the workspace areas"),
        ("companies/ACME/x", "'ACME' is not a company id"),
        ("companies/acme\n/x", "is not a company id"),
        ("companies/*/x", "is not a company id"),
        ("users/../x", "must not contain '..'"),
        ("companies/acme/" + "x" * 300, "is too long"),
    ],
)
def test_malformed_paths_are_refused_before_anything_is_touched(
    workspace: WorkspaceService, path: str, message: str
) -> None:
    with pytest.raises(WorkspacePathError, match=message):
        workspace.write_bytes(ROOT, path, b"x", replace=True)
    assert not workspace.root.exists()


def test_paths_are_normalised_but_never_leave_their_area(workspace: WorkspaceService) -> None:
    assert workspace.parse("companies//acme/./r.txt").text == "companies/acme/r.txt"
    assert workspace.parse("").text == "."
    assert workspace.parse("companies/acme").owner == "acme"


def test_an_existing_file_is_replaced_only_when_asked(files: WorkspaceService) -> None:
    with pytest.raises(
        WorkspaceFileExists, match=re.escape("'companies/acme/data.txt' already exists")
    ):
        files.write_bytes(ADA, "companies/acme/data.txt", b"new", replace=False)
    assert files.read_bytes(ADA, "companies/acme/data.txt") == b"companies/acme/data.txt"
    assert files.write_bytes(ADA, "companies/acme/data.txt", b"new", replace=True) is True
    assert files.read_bytes(ADA, "companies/acme/data.txt") == b"new"


def test_writes_are_atomic_keep_the_mode_and_leave_no_temporary_files(
    files: WorkspaceService,
) -> None:
    target = files.root / "companies" / "acme" / "data.txt"
    target.chmod(0o600)
    files.write_bytes(ADA, "companies/acme/data.txt", b"v2", replace=True)
    files.append_bytes(ADA, "companies/acme/data.txt", b"+more")
    assert target.read_bytes() == b"v2+more"
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.txt"]


def test_missing_parents_are_created_unless_refused(workspace: WorkspaceService) -> None:
    workspace.write_bytes(ADA, "companies/acme/a/b/c.txt", b"x", replace=False)
    assert (workspace.root / "companies/acme/a/b/c.txt").read_bytes() == b"x"
    with pytest.raises(WorkspaceFileError, match="Directory 'companies/acme/z' does not exist"):
        workspace.write_bytes(
            ADA, "companies/acme/z/c.txt", b"x", replace=False, create_parents=False
        )


def test_move_needs_write_access_to_both_sides(files: WorkspaceService) -> None:
    with pytest.raises(WorkspaceAccessDenied, match="company 'globex'"):
        files.move(ADA, "companies/acme/data.txt", "companies/globex/stolen.txt")
    with pytest.raises(WorkspaceAccessDenied, match="company 'globex'"):
        files.move(ADA, "companies/globex/data.txt", "companies/acme/stolen.txt")
    with pytest.raises(WorkspaceFileExists, match=re.escape("'users/ada/data.txt' already exists")):
        files.move(ADA, "companies/acme/data.txt", "users/ada/data.txt")
    files.move(ADA, "companies/acme/data.txt", "users/ada/copy.txt")
    assert files.read_bytes(ADA, "users/ada/copy.txt") == b"companies/acme/data.txt"


def test_a_directory_cannot_move_into_itself(workspace: WorkspaceService) -> None:
    workspace.make_directory(ADA, "companies/acme/dir/sub")
    with pytest.raises(WorkspaceFileError, match="into itself"):
        workspace.move(ADA, "companies/acme/dir", "companies/acme/dir/sub/dir")


def test_copy_needs_read_on_the_source_and_write_on_the_destination(
    files: WorkspaceService,
) -> None:
    with pytest.raises(WorkspaceAccessDenied, match="no read access to company 'globex'"):
        files.copy_file(ADA, "companies/globex/data.txt", "companies/acme/copy.txt")
    with pytest.raises(WorkspaceAccessDenied, match="no write access to company 'acme'"):
        files.copy_file(VERA, "companies/acme/data.txt", "companies/acme/copy.txt")
    assert files.copy_file(VERA, "companies/acme/data.txt", "users/vera/copy.txt") == 23
    with pytest.raises(WorkspaceFileExists):
        files.copy_file(VERA, "companies/acme/data.txt", "users/vera/copy.txt")


def test_a_non_empty_directory_is_deleted_only_recursively(files: WorkspaceService) -> None:
    files.make_directory(ADA, "companies/acme/dir/sub")
    with pytest.raises(WorkspaceFileError, match="is not empty"):
        files.delete(ADA, "companies/acme/dir")
    files.delete(ADA, "companies/acme/dir", recursive=True)
    assert not files.exists(ADA, "companies/acme/dir")


def test_walk_shows_only_what_the_principal_may_read(files: WorkspaceService) -> None:
    walked = [(e.path, e.kind) for e in files.walk(VERA)]
    assert walked == [
        ("companies", EntryKind.DIRECTORY),
        ("companies/acme", EntryKind.DIRECTORY),
        ("companies/acme/data.txt", EntryKind.FILE),
        ("shared", EntryKind.DIRECTORY),
        ("shared/data.txt", EntryKind.FILE),
        ("users", EntryKind.DIRECTORY),
        ("users/vera", EntryKind.DIRECTORY),
        ("users/vera/data.txt", EntryKind.FILE),
    ]


def test_directories_may_be_checked_before_they_exist(workspace: WorkspaceService) -> None:
    assert workspace.check_directory(ADA, "companies/acme/out", Access.WRITE).text == (
        "companies/acme/out"
    )
    workspace.check_directory(ADA, "companies/acme", Access.WRITE)  # files go inside it
    for folder in (".", "companies", "users"):
        with pytest.raises(WorkspaceAccessDenied):
            workspace.check_directory(ROOT, folder, Access.WRITE)
    with pytest.raises(WorkspaceAccessDenied, match="company 'globex'"):
        workspace.check_directory(ADA, "companies/globex/out", Access.WRITE)
    assert not workspace.root.exists()


def test_has_entries_says_only_whether_a_directory_holds_something(
    files: WorkspaceService,
) -> None:
    assert files.has_entries("companies/acme") is True
    assert files.has_entries("companies/acme/missing") is False
    assert files.has_entries("../etc") is False
    files.make_directory(ADA, "companies/acme/empty")
    assert files.has_entries("companies/acme/empty") is False


def test_anything_but_a_principal_is_refused() -> None:
    assert as_principal(ROOT) is ROOT
    with pytest.raises(WorkspaceAccessDenied, match="need a known principal"):
        as_principal("root")


def test_info_describes_without_following(files: WorkspaceService) -> None:
    os.symlink("/etc/passwd", files.root / "companies" / "acme" / "link")
    info = files.info(ADA, "companies/acme/link")
    assert (info.kind, info.path, info.name) == (EntryKind.SYMLINK, "companies/acme/link", "link")
    assert files.info(ADA, ".").kind is EntryKind.DIRECTORY
