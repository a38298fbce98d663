"""Fixtures shared by the whole suite.

Tests that need a real service (PostgreSQL, Redis, a Docker engine, bubblewrap) call
:func:`require_service`. Locally a missing service skips the test with the reason; with
``MASTERAI_REQUIRE_SERVICES=1`` (set by CI) it fails the run instead, so CI never passes by
skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("MASTERAI_REQUIRE_SERVICES", "") not in ("", "0", "false")


def require_service(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) the calling test when a service is unavailable."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def masterai_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty ``MASTERAI_HOME`` for one test, set in the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("MASTERAI_HOME", str(home))
    monkeypatch.delenv("MASTERAI_DATABASE_URL", raising=False)
    yield home
