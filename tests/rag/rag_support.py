"""Helpers of the RAG tests: a platform over the test database, users, registry calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from masterai.app import Platform
from masterai.registry import ExecutionContext, ToolResult, approve_all
from masterai.security import UserDirectory, load_principal
from masterai.settings import EgressSettings, LLMSettings, RagSettings, Settings
from masterai.store import Database


@contextmanager
def platform_over(
    database: Database, tmp_path: Path, *, seed: bool = True, **rag: Any
) -> Iterator[Platform]:
    """A platform on ``database``: companies acme and globex, users admin, alice, vic, gina.

    alice writes acme, vic reads acme, gina writes globex (``seed=False``: already there).
    """
    settings = Settings(
        home=tmp_path / "home",
        database_url=database.url,
        egress=EgressSettings(allowed_networks=["127.0.0.1/32"], timeout=5),
        llm=LLMSettings(max_retries=0),
        rag=RagSettings(**rag),
    )
    platform = Platform(settings)
    platform.__dict__["database"] = database
    directory = UserDirectory(database)
    for company in ("acme", "globex") if seed else ():
        directory.add_company(company, company.title())
    for name, role, grants in _USERS if seed else ():
        directory.add_user(name, role, companies=grants)
    try:
        yield platform
    finally:
        platform.close()


_USERS: list[tuple[str, str, dict[str, str]]] = [
    ("admin", "super_admin", {}),
    ("alice", "admin", {"acme": "write"}),
    ("vic", "viewer", {"acme": "read"}),
    ("gina", "admin", {"globex": "write"}),
]


def acting(platform: Platform, who: str) -> ExecutionContext:
    """The context of user ``who`` as it is now (approvals granted), for a run of calls."""
    return ExecutionContext(principal=load_principal(platform.database, who), approver=approve_all)


async def aidev(
    platform: Platform, who: str | ExecutionContext, operation: str, **args: Any
) -> ToolResult:
    """One ``aidev`` call through the registry as ``who`` (a name: loaded afresh)."""
    context = who if isinstance(who, ExecutionContext) else acting(platform, who)
    return await platform.call("aidev", {"operation": operation, **args}, context)


def result_of(result: ToolResult) -> Any:
    """The structured ``result`` of a successful call."""
    assert result.ok, (result.status, result.error)
    assert isinstance(result.data, dict)
    return result.data["result"]


def docs(*items: tuple[str, str], **metadata: Any) -> list[dict[str, Any]]:
    """Documents ``{id, text, metadata}`` from ``(id, text)`` pairs."""
    return [{"id": i, "text": t, "metadata": dict(metadata)} for i, t in items]
