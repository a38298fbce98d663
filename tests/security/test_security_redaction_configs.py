"""A configuration's secret settings never reach a viewer or the audit through its diff."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import DataAccessPermissions, Principal, role_defaults
from masterai.services.configs import ConfigurationService
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import AuditRecord, Company
from masterai.tools import build_registry

OLD_KEY = "hunter2-correct-horse"
NEW_KEY = "hunter3-battery-staple"


def person(role: str) -> Principal:
    permissions = role_defaults(role)
    if role != "super_admin":
        permissions = dataclasses.replace(
            permissions, data_access=DataAccessPermissions(read_companies=frozenset({"acme"}))
        )
    return Principal(name=f"{role}-user", role=role, permissions=permissions)


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> ToolRegistry:
    with database.session() as session:
        session.add(Company(id="acme", name="Acme"))
    configs = ConfigurationService(database)
    configs.update_configuration(
        "acme",
        {"model": "gpt-4o-mini", "settings": {"api_key": OLD_KEY, "language": "en"}},
        author="setup",
    )
    configs.update_configuration(
        "acme", {"settings": {"api_key": NEW_KEY, "language": "de"}}, author="setup"
    )
    return build_registry(Settings(home=tmp_path / "home"), database)


async def diff(registry: ToolRegistry, who: Principal) -> Any:
    params = {
        "operation": "diff_versions",
        "company_id": "acme",
        "from_version": 1,
        "to_version": 2,
    }
    return await registry.execute_tool("configuration", params, ExecutionContext(principal=who))


def audit_row(database: Database, audit_id: int | None) -> str:
    with database.session() as session:
        row = session.get(AuditRecord, audit_id)
        assert row is not None
        return f"{row.params} {row.result_summary} {row.error}"


async def test_a_viewer_sees_the_diff_of_a_secret_setting_without_its_values(
    registry: ToolRegistry,
) -> None:
    result = await diff(registry, person("viewer"))
    assert result.ok, result.error
    assert OLD_KEY not in result.content and NEW_KEY not in result.content
    assert "hunter" not in str(result.data)
    assert '"language": "en"' in result.data["summary"]  # the rest stays readable


async def test_the_audit_stores_the_diff_without_secret_values_whoever_asked(
    registry: ToolRegistry, database: Database
) -> None:
    for who in (person("viewer"), person("super_admin")):
        result = await diff(registry, who)
        assert result.ok, result.error
        assert "hunter" not in audit_row(database, result.audit_id)


async def test_a_principal_with_sensitive_data_sees_the_secret_values(
    registry: ToolRegistry,
) -> None:
    result = await diff(registry, person("super_admin"))
    assert OLD_KEY in result.content and NEW_KEY in result.content
