"""The prompts part of ``aidev`` through the registry, with scripted models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from masterai.llm import Model, ModelRequest, ModelResponse, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.services.aidev.prompts import detect_language
from masterai.services.configs import ConfigurationService
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Company
from masterai.tools.aidev import AIDevTool
from masterai.tools.aidev.prompts import PromptsPart

ROOT = ExecutionContext(principal=system_principal("root"))


def answering(request: ModelRequest) -> ModelResponse:
    """Kind prompts get friendly answers; others curt ones."""
    system = request.messages[0].content
    return ScriptedModel.reply("Hello friend, thank you!" if "kind" in system.lower() else "No.")


def grading(request: ModelRequest) -> ModelResponse:
    """A judge: friendly text scores 5, curt text 1."""
    text = request.messages[-1].content.rsplit("Text:\n", 1)[-1]
    score = 5 if "friend" in text else 1
    return ScriptedModel.reply(json.dumps({"score": score, "reason": f"scored {score}"}))


class Models:
    """A model factory that records every spec and request."""

    def __init__(self) -> None:
        self.built: dict[str, ScriptedModel] = {}

    def __call__(self, spec: str) -> Model:
        if spec.startswith("judge"):
            steps: list[Any] = [grading] * 20
        elif spec.startswith("writer"):
            steps = [
                ScriptedModel.reply("Be brief."),
                ScriptedModel.reply("```\nBe brief.\n```"),  # a duplicate, fenced
                ScriptedModel.reply("Be kind. Be formal."),
            ]
        else:
            # the first answers run the prompt; an optimizer call gets "Be kind." back
            steps = [
                lambda r: (
                    ScriptedModel.reply("Be kind.")
                    if "improve the system prompt" in r.messages[0].content
                    else answering(r)
                )
            ] * 20
        model = ScriptedModel(steps, name=spec)
        self.built[spec] = model
        return model


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def registry(db: Database, tmp_path: Path, models: Models) -> ToolRegistry:
    with db.session() as session:
        session.add(Company(id="acme", name="Acme"))
    configs = ConfigurationService(db)
    configs.update_configuration(
        "acme", {"provider": "openai", "model": "m", "system_prompt": "Be terse."}, author="t"
    )
    part = PromptsPart(Settings(home=tmp_path / "home"), configs, model_factory=models)
    registry = ToolRegistry(db)
    registry.register(AIDevTool([part]), category="aidev")
    return registry


async def call(registry: ToolRegistry, **params: Any) -> Any:
    result = await registry.execute_tool("aidev", params, ROOT)
    assert result.ok, result.error
    return result.data


async def test_optimize_prompt_from_examples_finds_a_better_prompt(registry: ToolRegistry) -> None:
    data = await call(
        registry,
        operation="optimize_prompt",
        current_prompt="Be terse.",
        model="subject:m",
        examples=[{"input": "hi", "assertions": [{"type": "contains", "value": "friend"}]}],
    )
    assert data["result"]["improved"] is True
    assert data["result"]["best_prompt"] == "Be kind."


async def test_optimize_prompt_company_form_uses_the_active_prompt(
    registry: ToolRegistry, models: Models
) -> None:
    data = await call(
        registry,
        operation="optimize_prompt",
        company_id="acme",
        examples=[{"input": "hi", "assertions": [{"type": "contains", "value": "friend"}]}],
    )
    assert data["result"]["current_prompt"] == "Be terse."
    assert "openai:m" in models.built


async def test_optimize_prompt_needs_exactly_one_prompt_source(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "aidev",
        {
            "operation": "optimize_prompt",
            "current_prompt": "x",
            "company_id": "acme",
            "examples": ["hi"],
        },
        ROOT,
    )
    assert not result.ok
    assert "exactly one of current_prompt" in (result.error or "")


async def test_expected_behaviour_becomes_a_judged_rubric(
    registry: ToolRegistry, models: Models
) -> None:
    await call(
        registry,
        operation="optimize_prompt",
        current_prompt="Be kind.",
        model="subject:m",
        judge_model="judge:j",
        examples=[{"input": "hi", "expected": "greets warmly"}],
    )
    judged = models.built["judge:j"].requests
    assert judged and "greets warmly" in judged[0].messages[-1].content


async def test_variations_are_labelled_and_deduplicated(registry: ToolRegistry) -> None:
    data = await call(
        registry,
        operation="generate_prompt_variations",
        base_prompt="Be helpful.",
        count=3,
        strategies=["shorter", "terse", "formal"],
        model="writer:w",
    )
    variations = data["result"]["variations"]
    assert variations == [
        {"strategy": "shorter", "prompt": "Be brief."},
        {"strategy": "formal", "prompt": "Be kind. Be formal."},
    ]
    assert data["result"]["duplicates_dropped"] == 1


async def test_variation_count_out_of_range_is_refused(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "aidev",
        {"operation": "generate_prompt_variations", "base_prompt": "x", "count": 50},
        ROOT,
    )
    assert not result.ok
    assert "count must be 1 to 10" in (result.error or "")


RUBRIC = [
    {"name": "friendly", "type": "judge", "description": "warm tone", "weight": 3},
    {"name": "short", "type": "max_length", "max_length": 10, "weight": 1},
]


async def test_evaluate_prompt_scores_answers_per_criterion_and_weighted(
    registry: ToolRegistry, models: Models
) -> None:
    data = await call(
        registry,
        operation="evaluate_prompt",
        prompt="Be kind.",
        criteria=RUBRIC,
        test_cases=["hello"],
        model="subject:m",
        judge_model="judge:j",
    )
    rows = {c["name"]: c for c in data["result"]["criteria"]}
    assert rows["friendly"]["score"] == 1.0
    assert rows["friendly"]["results"][0]["reason"] == "scored 5"
    assert rows["short"]["score"] == 0.0  # "Hello friend, thank you!" is 24 characters
    assert data["result"]["weighted_score"] == 0.75
    assert all(r.temperature == 0.0 for r in models.built["judge:j"].requests)


async def test_evaluate_prompt_is_cached_by_prompt_case_and_model(
    registry: ToolRegistry, models: Models
) -> None:
    params = {
        "operation": "evaluate_prompt",
        "prompt": "Be kind.",
        "criteria": RUBRIC,
        "test_cases": ["hello"],
        "model": "subject:m",
        "judge_model": "judge:j",
    }
    first = await call(registry, **params)
    second = await call(registry, **params)
    assert second["result"]["criteria"] == first["result"]["criteria"]
    assert models.built["subject:m"].requests == []  # answered from the cache
    assert models.built["judge:j"].requests == []


async def test_evaluate_prompt_samples_the_same_cases_for_the_same_seed(
    registry: ToolRegistry,
) -> None:
    params = {
        "operation": "evaluate_prompt",
        "prompt": "Be kind.",
        "criteria": [{"name": "short", "type": "max_length", "max_length": 10}],
        "test_cases": [f"question {i}" for i in range(20)],
        "sample_size": 5,
        "model": "subject:m",
    }
    first = (await call(registry, **params))["result"]
    again = (await call(registry, **params))["result"]
    other = (await call(registry, **params, seed=1))["result"]
    assert first["sample"] == again["sample"]
    assert len(first["sample"]["cases"]) == 5 and first["sample"]["of"] == 20
    assert other["sample"]["cases"] != first["sample"]["cases"]
    answered = [r["case"] for r in first["criteria"][0]["results"]]
    assert answered == first["sample"]["cases"]


async def test_evaluate_prompt_without_cases_checks_the_prompt_text(registry: ToolRegistry) -> None:
    data = await call(
        registry,
        operation="evaluate_prompt",
        prompt='{"reply": "ok"}',
        criteria=[
            {"name": "json", "type": "json_schema", "schema": {"required": ["reply"]}},
            {"name": "mentions", "type": "contains", "value": "refund"},
        ],
    )
    assert [c["score"] for c in data["result"]["criteria"]] == [1.0, 0.0]
    assert data["result"]["weighted_score"] == 0.5


async def test_a_malformed_criterion_is_named(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "aidev",
        {
            "operation": "evaluate_prompt",
            "prompt": "x",
            "criteria": [{"name": "a", "type": "regex", "value": "("}],
        },
        ROOT,
    )
    assert not result.ok
    assert "criteria[0]" in (result.error or "")


def test_language_detection_tells_english_from_german() -> None:
    assert detect_language("Thank you, we can help with your order") == "en"
    assert detect_language("Vielen Dank, wir helfen Ihnen gerne mit der Bestellung") == "de"
    assert detect_language("12345") is None
