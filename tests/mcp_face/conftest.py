"""A platform with companies, a super admin, an admin and a viewer (for the MCP tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import McpSettings, Settings


def setup_platform(home: Path) -> Platform:
    """A platform under ``home`` with acme and globex, each with a configuration, and users:
    root (super admin), ada (admin of acme), vic (viewer of acme)."""
    platform = Platform(Settings(home=home, mcp=McpSettings(watch_seconds=0.2)))
    setup = platform.context(system_principal("setup"), approver=approve_all)
    for params in (
        {"operation": "add_company", "company_id": "acme", "company_name": "Acme"},
        {"operation": "add_company", "company_id": "globex", "company_name": "Globex"},
        {"operation": "add_user", "name": "root", "role": "super_admin"},
        {
            "operation": "add_user",
            "name": "ada",
            "role": "admin",
            "companies": [{"company_id": "acme", "access": "write"}],
        },
        {
            "operation": "add_user",
            "name": "vic",
            "role": "viewer",
            "companies": [{"company_id": "acme"}],
        },
    ):
        result = platform.call_sync("admin", params, setup)
        assert result.ok, result.error
    for company in ("acme", "globex"):
        result = platform.call_sync(
            "configuration",
            {
                "operation": "update_prompt",
                "company_id": company,
                "prompt": f"You are {company}'s helpful assistant.",
            },
            setup,
        )
        assert result.ok, result.error
    return platform


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    platform = setup_platform(tmp_path / "home")
    yield platform
    platform.close()
