"""Retrieval-augmented answers: ``test_configuration`` with a configuration's ``settings.rag``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from masterai.llm import Model, ModelRequest, ModelResponse, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import UserDirectory, system_principal
from masterai.services.configs import ConfigurationService
from masterai.services.rag import HashingEmbedder, RagService, SourceDocument
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools.evaluation import EvaluatingConfigurationTool

ROOT = ExecutionContext(principal=system_principal("root"))
PASSAGES = [
    SourceDocument(
        id="refunds", text="Refunds reach the original card within 5 days.", metadata={}
    ),
    SourceDocument(id="parrots", text="Parrot cages are cleaned every Tuesday.", metadata={}),
]
CASES = [
    {"input": "how long does a refund take?", "assertions": [{"type": "contains", "value": "5"}]}
]


def answer_from_context(request: ModelRequest) -> ModelResponse:
    """A model that answers only with what its system prompt says about refunds."""
    system = request.messages[0].content if request.messages[0].role == "system" else ""
    return ScriptedModel.reply("Within 5 days." if "within 5 days" in system else "I don't know.")


def _registry(
    database: Database, tmp_path: Path, rag_setting: Any, models: list[ScriptedModel]
) -> tuple[ToolRegistry, RagService]:
    UserDirectory(database).add_company("acme", "Acme")
    configs = ConfigurationService(database)
    settings: dict[str, Any] = {} if rag_setting is None else {"rag": rag_setting}
    configs.update_configuration(
        "acme",
        {"provider": "openai", "model": "m", "system_prompt": "Be brief.", "settings": settings},
        author="setup",
    )

    def factory(spec: str) -> Model:
        model = ScriptedModel([answer_from_context] * 5, name=spec)
        models.append(model)
        return model

    service = RagService(database, Settings(home=tmp_path).rag)
    tool = EvaluatingConfigurationTool(
        configs, Settings(home=tmp_path), model_factory=factory, rag=service
    )
    registry = ToolRegistry(database)
    registry.register(tool, category="configuration")
    return registry, service


async def _index(service: RagService) -> None:
    await service.index("acme", PASSAGES, collection="kb", embedder=HashingEmbedder(256))


async def _test(registry: ToolRegistry) -> Any:
    return await registry.execute_tool(
        "configuration",
        {"operation": "test_configuration", "company_id": "acme", "test_cases": CASES},
        ROOT,
    )


async def test_retrieved_passages_reach_the_model_request(
    database: Database, tmp_path: Path
) -> None:
    models: list[ScriptedModel] = []
    registry, service = _registry(database, tmp_path, {"collection": "kb", "top_k": 1}, models)
    await _index(service)
    result = await _test(registry)
    assert result.ok, result.error
    assert result.data["result"]["passed"] == 1
    system = models[0].requests[0].messages[0].content
    assert system.startswith("Be brief.\n\n")
    assert "[refunds]\nRefunds reach the original card within 5 days." in system
    assert "Parrot" not in system  # top_k 1: only the best passage


async def test_without_settings_rag_the_request_has_only_the_prompt(
    database: Database, tmp_path: Path
) -> None:
    models: list[ScriptedModel] = []
    registry, service = _registry(database, tmp_path, None, models)
    await _index(service)
    result = await _test(registry)
    assert result.data["result"]["passed"] == 0
    assert models[0].requests[0].messages[0].content == "Be brief."


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"collection": "missing"}, "has no collection 'missing'"),
        ({"top_k": 0}, "settings.rag.top_k must be 1 to 20"),
        ("kb", "settings.rag must be true or"),
    ],
)
async def test_a_bad_or_unknown_rag_setting_fails_with_one_clear_error(
    database: Database, tmp_path: Path, setting: Any, message: str
) -> None:
    registry, service = _registry(database, tmp_path, setting, [])
    await _index(service)
    result = await _test(registry)
    assert not result.ok
    assert message in (result.error or "")
