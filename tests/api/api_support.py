"""Shared set-up of the API route tests: a platform with acme, a super admin and a viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import Settings


def acme_platform(home: Path) -> Platform:
    """Company acme, ``admin`` (super admin) and ``vic`` (viewer of acme)."""
    platform = Platform(Settings(home=home))
    root = platform.context(system_principal("setup"), approver=approve_all)
    for params in (
        {"operation": "add_company", "company_id": "acme", "company_name": "Acme"},
        {"operation": "add_user", "name": "admin", "role": "super_admin"},
        {
            "operation": "add_user",
            "name": "vic",
            "role": "viewer",
            "companies": [{"company_id": "acme"}],
        },
    ):
        assert platform.call_sync("admin", params, root).ok
    return platform


def token(platform: Platform, name: str, *, auto_approve: bool = False) -> str:
    """A new API token of ``name``."""
    root = platform.context(system_principal("setup"))
    params: dict[str, Any] = {"operation": "issue_token", "name": name}
    if auto_approve:
        params["auto_approve"] = True
    return str(platform.call_sync("admin", params, root).data["result"]["token"])
