"""Fixtures of the monitor tests: a store, settings that allow loopback, users, a processor."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.registry import ToolRegistry
from masterai.security import Principal, UserDirectory, load_principal
from masterai.services.alerts import MonitorProcessor
from masterai.settings import MonitorSettings, SandboxSettings, Settings
from masterai.store import Database
from masterai.tools import build_registry

_SUPPORT = str(Path(__file__).resolve().parents[1] / "integrations")
if _SUPPORT not in sys.path:
    sys.path.append(_SUPPORT)

from support import Receiver, http_receiver, make_settings  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    """A migrated SQLite database."""
    path = tmp_path / "masterai.db"
    shutil.copyfile(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Loopback allowed, low monitor thresholds, bubblewrap with a run directory it can reach."""
    # Run directories must be reachable by the sandbox user, so not under pytest's tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-monitors-"))
    run_dir.chmod(0o755)
    yield make_settings(
        tmp_path,
        monitors=MonitorSettings(denied_burst=3, profile_min_calls=3),
        sandbox=SandboxSettings(backend="bubblewrap", run_dir=run_dir),
    )
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def registry(settings: Settings, store: Database) -> ToolRegistry:
    return build_registry(settings, store)


@pytest.fixture
def people(store: Database) -> dict[str, Principal]:
    """A super admin, an admin of acme, a viewer of acme, an admin of globex."""
    directory = UserDirectory(store)
    directory.add_company("acme", "Acme")
    directory.add_company("globex", "Globex")
    directory.add_user("root", "super_admin")
    directory.add_user("ada", "admin", companies={"acme": "write"})
    directory.add_user("vic", "viewer", companies={"acme": "read"})
    directory.add_user("gus", "admin", companies={"globex": "write"})
    return {name: load_principal(store, name) for name in ("root", "ada", "vic", "gus")}


@pytest.fixture
def processor(settings: Settings, store: Database) -> MonitorProcessor:
    """The monitor loop with the built-in monitors only (no custom tool runner)."""
    return MonitorProcessor(store, settings.monitors)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as state:
        yield state
