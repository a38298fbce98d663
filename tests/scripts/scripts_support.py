"""Helpers of the scripts and jobs tests: a platform over the test database, users, calls."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from masterai.app import Platform
from masterai.llm import Model, ScriptedModel
from masterai.registry import ExecutionContext, ToolResult, approve_all
from masterai.security import UserDirectory, load_principal
from masterai.settings import (
    EgressSettings,
    JobsSettings,
    LLMSettings,
    SandboxSettings,
    Settings,
)
from masterai.store import Database
from service_guard import require_service


@contextmanager
def platform_over(
    database: Database, tmp_path: Path, *, scripted_dir: Path | None = None, **jobs: Any
) -> Iterator[Platform]:
    """A platform on ``database`` with a bubblewrap sandbox, users alice (admin) and vic."""
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-scripts-"))
    run_dir.chmod(0o755)
    settings = Settings(
        home=tmp_path / "home",
        database_url=database.url,
        sandbox=SandboxSettings(backend="bubblewrap", run_dir=run_dir),
        egress=EgressSettings(allowed_networks=["127.0.0.1/32"], timeout=5),
        jobs=JobsSettings(**{"heartbeat": 0.2, **jobs}),
        llm=LLMSettings(scripted_dir=scripted_dir, max_retries=0),
    )
    platform = Platform(settings)
    platform.__dict__["database"] = database
    directory = UserDirectory(database)
    for company in ("acme", "globex"):
        directory.add_company(company, company.title())
    directory.add_user("admin", "super_admin")
    directory.add_user("alice", "admin", companies={"acme": "write"})
    directory.add_user("vic", "viewer", companies={"acme": "read"})
    try:
        yield platform
    finally:
        platform.close()
        shutil.rmtree(run_dir, ignore_errors=True)


async def code(platform: Platform, who: str, operation: str, **args: Any) -> ToolResult:
    """One ``code`` call through the registry as ``who`` (approvals granted)."""
    context = ExecutionContext(
        principal=load_principal(platform.database, who), approver=approve_all
    )
    return await platform.call("code", {"operation": operation, **args}, context)


def result_of(result: ToolResult) -> Any:
    """The structured ``result`` of a successful call."""
    assert result.ok, (result.status, result.error)
    assert isinstance(result.data, dict)
    return result.data["result"]


def scripted_models(reply: str) -> Any:
    """A model factory whose models always answer ``reply``."""

    def build(spec: str) -> Model:
        return ScriptedModel([ScriptedModel.reply(reply)] * 50, name=spec)

    return build


def dumps(value: Any) -> str:
    """Compact JSON (tool-script bodies)."""
    return json.dumps(value)
