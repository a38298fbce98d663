"""``configuration.test_configuration`` emits ``test.failed`` when cases fail, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from masterai.llm import Model, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.services.configs import ConfigurationService
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Company
from masterai.store.models.events import Event
from masterai.tools.evaluation import EvaluatingConfigurationTool

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def registry_for(database: Database, tmp_path: Path) -> ToolRegistry:
    with database.session() as session:
        session.add(Company(id="acme", name="Acme"))
    configs = ConfigurationService(database)
    configs.update_configuration(
        "acme", {"provider": "openai", "model": "m", "system_prompt": "Hi."}, author="setup"
    )

    def build(spec: str) -> Model:
        return ScriptedModel([ScriptedModel.reply("hello there")] * 5, name=spec)

    registry = ToolRegistry(database)
    registry.register(
        EvaluatingConfigurationTool(configs, Settings(home=tmp_path), model_factory=build),
        category="configuration",
    )
    return registry


async def run_cases(registry: ToolRegistry, expected: str) -> None:
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "test_configuration",
            "company_id": "acme",
            "test_cases": [
                {
                    "name": "greets",
                    "input": "hi",
                    "assertions": [{"type": "contains", "value": expected}],
                }
            ],
        },
        ExecutionContext(principal=system_principal("root")),
    )
    assert result.ok, result.error


async def test_failing_cases_emit_test_failed_with_the_cases(
    database: Database, tmp_path: Path
) -> None:
    registry = registry_for(database, tmp_path)

    await run_cases(registry, "FRIEND")

    with database.session() as session:
        failed = session.scalars(select(Event).where(Event.type == "test.failed")).one()
    assert failed.company_id == "acme" and failed.data["failed_cases"] == ["greets"]
    assert failed.data["version"] == 1 and failed.data["summary"]["passed"] == 0


async def test_passing_cases_emit_nothing(database: Database, tmp_path: Path) -> None:
    registry = registry_for(database, tmp_path)

    await run_cases(registry, "hello")

    with database.session() as session:
        assert session.scalars(select(Event).where(Event.type == "test.failed")).all() == []
