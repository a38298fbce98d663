"""Fixtures of the monitor tests: a store, settings that allow loopback, users, a processor."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.security import Principal, load_principal
from masterai.services.alerts import MonitorProcessor
from masterai.settings import MonitorSettings, SandboxSettings, Settings
from masterai.store import Database

_SUPPORT = str(Path(__file__).resolve().parents[1] / "integrations")
if _SUPPORT not in sys.path:
    sys.path.append(_SUPPORT)

from support import make_settings, receiver, registry, staff, store  # noqa: E402

__all__ = ["receiver", "registry", "store"]


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
def people(store: Database) -> dict[str, Principal]:
    """A super admin, an admin of acme, a viewer of acme, an admin of globex."""
    directory = staff(store)
    directory.add_user("gus", "admin", companies={"globex": "write"})
    return {name: load_principal(store, name) for name in ("root", "ada", "vic", "gus")}


@pytest.fixture
def processor(settings: Settings, store: Database) -> MonitorProcessor:
    """The monitor loop with the built-in monitors only (no custom tool runner)."""
    return MonitorProcessor(store, settings.monitors)
