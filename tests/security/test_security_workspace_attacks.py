"""Issue 11's workspace attacks, replayed through the registry as a hostile user would.

On the shared workspace each of these worked: a viewer of one company read another
company's report with ``filesystem.read_file`` and overwrote it through ``generate_report``
with ``filename=...``; a report name with a trailing newline passed the name check; raw HTML
from a conversation reached Markdown reports as HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from masterai.registry import ExecutionContext, ToolRegistry, ToolResult, approve_all
from masterai.security import UserDirectory, load_principal, system_principal
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Conversation, Message
from masterai.tools import build_registry

GLOBEX_REPORT = "companies/globex/reports/q2.html"
ORIGINAL = "<h1>Globex Q2: confidential</h1>"
HOSTILE = "<script>alert('pwned')</script> where is my <b>order</b>?"


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> ToolRegistry:
    directory = UserDirectory(database)
    directory.add_company("acme", "Acme")
    directory.add_company("globex", "Globex")
    directory.add_user("vera", "viewer", companies={"acme": "read"})
    directory.add_user("ada", "admin", companies={"acme": "write"})
    when = datetime(2024, 5, 1, 10, tzinfo=UTC)
    with database.session() as session:
        session.add(
            Conversation(
                id="x1",
                company_id="acme",
                channel="web",
                model="gpt-4o-mini",
                started_at=when,
                escalated=True,
                messages=[Message(seq=0, role="user", content=HOSTILE, created_at=when)],
            )
        )
    registry = build_registry(Settings(home=tmp_path / "home"), database)
    registry.unregister("code")  # no sandbox needed here
    return registry


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "home" / "workspace"


async def call(
    registry: ToolRegistry, who: str, tool: str, args: dict[str, Any], *, approve: bool = False
) -> ToolResult:
    principal = (
        system_principal("root") if who == "root" else load_principal(registry.database, who)
    )
    context = ExecutionContext(principal=principal, approver=approve_all if approve else None)
    return await registry.execute_tool(tool, args, context)


@pytest.fixture
async def globex_report(registry: ToolRegistry, workspace: Path) -> Path:
    args = {"operation": "write_file", "path": GLOBEX_REPORT, "content": ORIGINAL}
    written = await call(registry, "root", "filesystem", args, approve=True)
    assert written.ok, written.error
    return workspace / GLOBEX_REPORT


async def test_a_viewer_cannot_read_another_companys_report(
    registry: ToolRegistry, globex_report: Path
) -> None:
    read = await call(
        registry, "vera", "filesystem", {"operation": "read_file", "path": GLOBEX_REPORT}
    )
    assert (read.ok, read.status) == (False, "denied")
    assert "no read access to company 'globex'" in (read.error or "")
    assert "confidential" not in read.content
    legacy = await call(
        registry, "vera", "filesystem", {"operation": "read_file", "path": "reports/q2.html"}
    )
    assert legacy.status == "invalid"


async def test_a_viewer_cannot_find_another_companys_report_by_listing_or_searching(
    registry: ToolRegistry, globex_report: Path
) -> None:
    listed = await call(
        registry, "vera", "filesystem", {"operation": "list_directory", "path": "companies"}
    )
    assert listed.ok and "globex" not in listed.content
    found = await call(
        registry, "vera", "filesystem", {"operation": "search", "content": "confidential"}
    )
    assert (found.ok, found.content) == (True, "No matches")
    info = await call(
        registry, "vera", "filesystem", {"operation": "get_info", "path": GLOBEX_REPORT}
    )
    assert info.status == "denied"


async def test_a_viewer_cannot_overwrite_another_companys_report_through_generate_report(
    registry: ToolRegistry, globex_report: Path, workspace: Path
) -> None:
    report = {"operation": "generate_report", "report_type": "costs", "filename": "q2.html"}
    denied = await call(registry, "vera", "analytics", {**report, "company_id": "globex"})
    assert denied.status == "denied"
    own = await call(registry, "vera", "analytics", {**report, "company_id": "acme"}, approve=True)
    assert own.ok, own.error
    # a viewer may not change acme either: the report is private to her
    assert own.data["result"]["path"] == "users/vera/reports/q2.html"
    # without a company: the companies she may read, so again her own folder
    everything = await call(registry, "vera", "analytics", report)
    assert everything.status == "denied"
    assert "'users/vera/reports/q2.html' exists" in (everything.error or "")
    assert globex_report.read_text() == ORIGINAL
    assert (workspace / "users/vera/reports/q2.html").exists()


async def test_an_admin_writes_reports_into_the_own_company_only(
    registry: ToolRegistry, globex_report: Path, workspace: Path
) -> None:
    report = {"operation": "generate_report", "report_type": "costs", "filename": "q2.html"}
    ada = await call(registry, "ada", "analytics", {**report, "company_id": "acme"})
    assert ada.data["result"]["path"] == "companies/acme/reports/q2.html"
    several = await call(
        registry, "root", "analytics", {**report, "company_ids": ["acme", "globex"]}
    )
    # several companies' figures never land where one company's readers would see them
    assert several.data["result"]["path"] == "users/root/reports/q2.html"
    assert globex_report.read_text() == ORIGINAL


async def test_replacing_an_existing_report_needs_approval(
    registry: ToolRegistry, workspace: Path
) -> None:
    args = {
        "operation": "generate_report",
        "report_type": "costs",
        "company_id": "acme",
        "format": "json",
        "filename": "costs.json",
    }
    assert (await call(registry, "ada", "analytics", args)).ok
    target = workspace / "companies/acme/reports/costs.json"
    target.write_text("kept")
    refused = await call(registry, "ada", "analytics", args)
    assert (refused.status, target.read_text()) == ("denied", "kept")
    assert "Authorization denied" in (refused.error or "")
    replaced = await call(registry, "ada", "analytics", args, approve=True)
    assert replaced.ok and target.read_text() != "kept"


@pytest.mark.parametrize(
    "filename", ["q2.html\n", "../globex/reports/q2.html", "companies/globex/q2.html", ".hidden"]
)
async def test_a_report_file_name_is_matched_as_a_whole_string(
    registry: ToolRegistry, workspace: Path, filename: str
) -> None:
    args = {"operation": "generate_report", "report_type": "costs", "filename": filename}
    result = await call(registry, "root", "analytics", args)
    assert result.status == "invalid"
    assert "filename must be a plain file name" in (result.error or "")
    assert not (workspace / "users").exists()


async def test_a_markdown_report_shows_raw_html_from_conversations_as_text(
    registry: ToolRegistry, workspace: Path
) -> None:
    args = {
        "operation": "generate_report",
        "report_type": "company_summary",
        "company_id": "acme",
        "format": "markdown",
        "filename": "summary.md",
    }
    result = await call(registry, "ada", "analytics", args)
    assert result.ok, result.error
    text = (workspace / "companies/acme/reports/summary.md").read_text()
    assert (
        "&lt;script&gt;alert('pwned')&lt;/script&gt; where is my &lt;b&gt;order&lt;/b&gt;?" in text
    )
    assert "<script>" not in text and "<b>" not in text
