"""Fixtures of the integration tests: settings that allow loopback, a registry, users, peers."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.registry import ToolRegistry
from masterai.security import Principal, UserDirectory, load_principal
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools import build_registry

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from support import Receiver, http_receiver, make_settings  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    """A migrated SQLite database (most integration tests need no second engine)."""
    path = tmp_path / "masterai.db"
    shutil.copyfile(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def registry(settings: Settings, store: Database) -> ToolRegistry:
    return build_registry(settings, store)


@pytest.fixture
def people(store: Database) -> dict[str, Principal]:
    """Users in the directory: a super admin, an admin of acme, a viewer of acme."""
    directory = UserDirectory(store)
    directory.add_company("acme", "Acme")
    directory.add_company("globex", "Globex")
    directory.add_user("root", "super_admin")
    directory.add_user("ada", "admin", companies={"acme": "write"})
    directory.set_grant("ada", "integrations.allowed_domains", ["127.0.0.1", "example.com"])
    directory.set_grant("ada", "integrations.email_domains", ["example.com"])
    directory.add_user("vic", "viewer", companies={"acme": "read"})
    return {name: load_principal(store, name) for name in ("root", "ada", "vic")}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as state:
        yield state
