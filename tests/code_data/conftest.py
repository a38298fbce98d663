"""Fixtures of the data and package tests: the ``code`` tool on a real bubblewrap sandbox."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.registry import ToolRegistry
from masterai.sandbox import CodeExecutionEnvironment
from masterai.sandbox.sessions import SessionStore
from masterai.settings import SandboxSettings
from masterai.store import Database
from masterai.tools.code import CodeTool
from service_guard import require_service


@pytest.fixture(scope="module")
def environment() -> Iterator[CodeExecutionEnvironment]:
    """A bubblewrap environment, shared by a module's tests (runs are independent)."""
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    # Run directories must be reachable by the sandbox user, so not under pytest's tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-code-data-"))
    run_dir.chmod(0o755)
    environment = CodeExecutionEnvironment(SandboxSettings(backend="bubblewrap", run_dir=run_dir))
    yield environment
    environment.close()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def sessions(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions", quota=64 * 1024, ttl=3600.0, max_sessions=3)


@pytest.fixture
def tool(
    environment: CodeExecutionEnvironment, workspace: Path, sessions: SessionStore
) -> CodeTool:
    return CodeTool(environment, workspace, sessions=sessions)


@pytest.fixture
def registry(tmp_path: Path, tool: CodeTool) -> ToolRegistry:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.upgrade()
    registry = ToolRegistry(database)
    registry.register(tool, category="code")
    return registry
