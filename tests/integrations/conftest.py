"""Fixtures of the integration tests: settings that allow loopback, a registry, users, peers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from masterai.security import Principal, load_principal
from masterai.settings import Settings
from masterai.store import Database

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from support import make_settings, receiver, registry, staff, store  # noqa: E402

__all__ = ["receiver", "registry", "store"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def people(store: Database) -> dict[str, Principal]:
    """Users in the directory: a super admin, an admin of acme, a viewer of acme."""
    directory = staff(store)
    directory.set_grant("ada", "integrations.allowed_domains", ["127.0.0.1", "example.com"])
    directory.set_grant("ada", "integrations.email_domains", ["example.com"])
    return {name: load_principal(store, name) for name in ("root", "ada", "vic")}
