"""test_configuration / compare_configurations / benchmark_models through the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from masterai.llm import Model, ModelRequest, ModelResponse, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.services.analytics import AnalyticsService
from masterai.services.configs import ConfigurationService
from masterai.settings import ModelPrice, Settings
from masterai.store import Database
from masterai.store.models import Company
from masterai.tools.evaluation import EvaluatingAnalyticsTool, EvaluatingConfigurationTool

ROOT = ExecutionContext(principal=system_principal("root"))

# The evaluation logic does not depend on the database; the agent tests cover both.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def answering(request: ModelRequest) -> ModelResponse:
    """A fake model whose answer depends on the system prompt and the input."""
    system = request.messages[0].content if request.messages[0].role == "system" else ""
    question = request.messages[-1].content
    if "json" in question:
        return ScriptedModel.reply('{"answer": 42}' if "kind" in system.lower() else "42")
    return ScriptedModel.reply("Hello friend!" if "kind" in system.lower() else "Hi.")


def factory(specs: list[str]) -> Any:
    def build(spec: str) -> Model:
        specs.append(spec)
        if spec.startswith("optimizer:"):
            better = "```\nBe kind. Answer in JSON when asked.\n```"
            return ScriptedModel([ScriptedModel.reply(better)] * 3, name=spec)
        if spec.startswith("lazy:"):
            return ScriptedModel([ScriptedModel.reply("Be brief.")] * 3, name=spec)
        if spec.startswith("judge:"):
            verdict = '{"pass": false, "reason": "too curt"}'
            return ScriptedModel([ScriptedModel.reply(verdict)] * 10, name=spec)
        return ScriptedModel([answering] * 20, name=spec)

    return build


@pytest.fixture
def built(database: Database, tmp_path: Path) -> tuple[ToolRegistry, list[str]]:
    with database.session() as session:
        session.add_all([Company(id="acme", name="Acme"), Company(id="globex", name="Globex")])
    configs = ConfigurationService(database)
    configs.update_configuration(
        "acme",
        {"provider": "openai", "model": "kind-model", "system_prompt": "Be kind."},
        author="setup",
    )
    configs.update_prompt("acme", "Be terse.", author="setup")
    configs.update_configuration(
        "globex",
        {
            "provider": "ollama",
            "model": "llama3.1",
            "system_prompt": "Be kind.",
            "settings": {"base_url": "http://127.0.0.1:9"},
        },
        author="setup",
    )
    settings = Settings(home=tmp_path / "home")
    specs: list[str] = []
    registry = ToolRegistry(database)
    registry.register(
        EvaluatingConfigurationTool(configs, settings, model_factory=factory(specs)),
        category="configuration",
    )
    analytics = AnalyticsService(database, settings)
    registry.register(
        EvaluatingAnalyticsTool(analytics, tmp_path, settings, model_factory=factory(specs)),
        category="analytics",
    )
    return registry, specs


CASES = [
    {"name": "greets", "input": "hello", "assertions": [{"type": "contains", "value": "FRIEND"}]},
    {
        "input": "json please",
        "assertions": [
            {"type": "json_schema", "schema": {"type": "object", "required": ["answer"]}},
            {"type": "regex", "value": r"\d+"},
        ],
    },
]


async def test_test_configuration_runs_the_active_configuration_and_checks_assertions(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, specs = built
    result = await registry.execute_tool(
        "configuration",
        {"operation": "test_configuration", "company_id": "acme", "test_cases": CASES},
        ROOT,
    )
    assert result.ok, result.error
    report = result.data["result"]
    assert (report["label"], report["passed"], report["cases"]) == ("acme v2", 0, 2)
    assert report["results"][0]["failures"] == ["expected the answer to contain 'FRIEND'"]
    assert report["results"][1]["failures"] == [
        "JSON does not match the schema: 42 is not of type 'object'"
    ]
    assert specs == ["openai:kind-model"]
    assert "0/2 passed" in result.data["summary"]


async def test_an_older_version_and_a_base_url_from_settings_are_honoured(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, specs = built
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "test_configuration",
            "company_id": "acme",
            "version": 1,
            "test_cases": CASES,
        },
        ROOT,
    )
    assert result.ok and result.data["result"]["pass_rate"] == 1.0
    await registry.execute_tool(
        "configuration",
        {"operation": "test_configuration", "company_id": "globex", "test_cases": ["hi"]},
        ROOT,
    )
    assert specs[-1] == "ollama:llama3.1@http://127.0.0.1:9"


async def test_compare_configurations_puts_two_versions_side_by_side(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, _ = built
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "compare_configurations",
            "company_id": "acme",
            "versions": [1, 2],
            "test_cases": CASES,
        },
        ROOT,
    )
    assert result.ok, result.error
    matrix = result.data["result"]
    assert [s["pass_rate"] for s in matrix["summary"]] == [1.0, 0.0]
    first_row = matrix["matrix"][0]
    assert first_row["case"] == "greets"
    assert (first_row["acme v1"]["passed"], first_row["acme v2"]["passed"]) == (True, False)


async def test_compare_configurations_needs_exactly_two_configurations(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, _ = built
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "compare_configurations",
            "company_id": "acme",
            "versions": [1],
            "test_cases": CASES,
        },
        ROOT,
    )
    assert not result.ok and "versions=[1]" in (result.error or "")


async def test_rubric_assertions_are_judged_by_the_judge_model(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, specs = built
    cases = [{"input": "hello", "assertions": [{"type": "rubric", "value": "Warm tone"}]}]
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "test_configuration",
            "company_id": "acme",
            "test_cases": cases,
            "judge_model": "judge:strict",
        },
        ROOT,
    )
    assert result.ok, result.error
    assert result.data["result"]["results"][0]["failures"] == ["rubric 'Warm tone': too curt"]
    assert "judge:strict" in specs


async def test_benchmark_models_runs_one_suite_across_models(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, specs = built
    result = await registry.execute_tool(
        "analytics",
        {
            "operation": "benchmark_models",
            "models": ["openai:a", "anthropic:b"],
            "system_prompt": "Be kind.",
            "test_cases": CASES,
        },
        ROOT,
    )
    assert result.ok, result.error
    summary = result.data["result"]["summary"]
    assert [(s["label"], s["passed"]) for s in summary] == [("openai:a", 2), ("anthropic:b", 2)]
    assert specs == ["openai:a", "anthropic:b"]


@pytest.mark.parametrize(
    ("cases", "complaint"),
    [
        ([], "test_cases must be a non-empty list"),
        ([{"input": "x", "assertions": [{"type": "regex", "value": "("}]}], "test_cases[0]"),
        (
            [{"input": "x", "assertions": [{"type": "containz", "value": "a"}]}],
            "test_cases[0]: assertions.0.type",
        ),
        ([{"input": "x", "assertions": [{"type": "json_schema"}]}], "needs 'schema'"),
    ],
)
async def test_malformed_test_cases_are_refused_naming_the_case(
    built: tuple[ToolRegistry, list[str]], cases: Any, complaint: str
) -> None:
    registry, specs = built
    result = await registry.execute_tool(
        "configuration",
        {"operation": "test_configuration", "company_id": "acme", "test_cases": cases},
        ROOT,
    )
    assert not result.ok
    assert complaint in (result.error or "")
    assert specs == []  # no model was built, nothing was spent


async def test_optimize_prompt_proposes_a_better_prompt_from_the_failures_and_changes_nothing(
    built: tuple[ToolRegistry, list[str]], database: Database
) -> None:
    registry, specs = built
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "optimize_prompt",
            "company_id": "acme",
            "test_cases": CASES,
            "optimizer_model": "optimizer:x",
            "rounds": 3,
        },
        ROOT,
    )
    assert result.ok, result.error
    report = result.data["result"]
    assert report["current_prompt"] == "Be terse."
    assert (report["improved"], report["best_round"]) == (True, 1)
    assert report["best_prompt"] == "Be kind. Answer in JSON when asked."
    # Every case passes after round 1, so no further round is spent.
    assert [(c["round"], c["passed"]) for c in report["candidates"]] == [(1, 2)]
    assert [s["passed"] for s in report["summary"]] == [0, 2]
    assert report["matrix"][0]["current"]["passed"] is False
    assert report["matrix"][0]["candidate 1"]["passed"] is True
    assert specs == ["openai:kind-model", "optimizer:x"]
    assert "Nothing was changed" in result.data["summary"]
    current = ConfigurationService(database).get_configuration("acme")
    assert (current.version, current.system_prompt) == (2, "Be terse.")


async def test_optimize_prompt_tells_the_optimizer_what_failed_and_keeps_a_worse_prompt_out(
    built: tuple[ToolRegistry, list[str]], database: Database, tmp_path: Path
) -> None:
    specs: list[str] = []
    briefs: list[str] = []

    def reply(request: ModelRequest) -> ModelResponse:
        briefs.append(request.messages[-1].content)
        return ScriptedModel.reply("Be brief.")

    def build(spec: str) -> Model:
        specs.append(spec)  # the first model built is the subject, the second the optimizer
        script = [answering] * 10 if len(specs) == 1 else [reply] * 3
        return ScriptedModel(script, name=spec)

    registry = ToolRegistry(database)
    tool = EvaluatingConfigurationTool(
        ConfigurationService(database), Settings(home=tmp_path / "h"), model_factory=build
    )
    registry.register(tool, category="configuration")
    result = await registry.execute_tool(
        "configuration",
        {"operation": "optimize_prompt", "company_id": "acme", "test_cases": CASES, "rounds": 2},
        ROOT,
    )
    assert result.ok, result.error
    report = result.data["result"]
    assert report["improved"] is False and report["best_prompt"] is None
    assert [(c["round"], c["passed"]) for c in report["candidates"]] == [(1, 0), (2, 0)]
    # Without optimizer_model the configuration's own model rewrites the prompt.
    assert specs == ["openai:kind-model", "openai:kind-model"]
    assert "nothing to apply" in result.data["summary"]
    assert len(briefs) == 2
    assert "Current system prompt:\nBe terse." in briefs[1]  # the better of the two so far
    assert "failed: expected the answer to contain 'FRIEND'" in briefs[0]
    assert "checks: contains 'FRIEND'" in briefs[0]


@pytest.mark.parametrize("rounds", [0, 4])
async def test_optimize_prompt_refuses_rounds_out_of_range_before_any_model_call(
    built: tuple[ToolRegistry, list[str]], rounds: int
) -> None:
    registry, specs = built
    result = await registry.execute_tool(
        "configuration",
        {
            "operation": "optimize_prompt",
            "company_id": "acme",
            "test_cases": CASES,
            "rounds": rounds,
        },
        ROOT,
    )
    assert not result.ok
    assert f"rounds must be 1 to 3, got {rounds}" in (result.error or "")
    assert specs == []


async def test_model_calling_operations_report_what_they_spent(
    database: Database, tmp_path: Path, built: tuple[ToolRegistry, list[str]]
) -> None:
    dollar_a_token = ModelPrice(input_per_mtok=1_000_000, output_per_mtok=1_000_000)
    tool = EvaluatingConfigurationTool(
        ConfigurationService(database),
        Settings(home=tmp_path / "h"),
        model_factory=lambda spec: ScriptedModel([answering] * 5, name=spec, price=dollar_a_token),
    )
    registry = ToolRegistry(database)
    registry.register(tool, category="configuration")
    result = await registry.execute_tool(
        "configuration",
        {"operation": "test_configuration", "company_id": "acme", "test_cases": CASES},
        ROOT,
    )
    assert result.ok, result.error
    report = result.data["result"]
    tokens = report["input_tokens"] + report["output_tokens"]
    assert tokens > 0
    assert result.data["cost_usd"] == report["cost_usd"] == pytest.approx(tokens)


def test_only_the_model_calling_operations_are_marked_as_calling_models(
    built: tuple[ToolRegistry, list[str]],
) -> None:
    registry, _ = built
    marked = {
        (name, op)
        for name in ("configuration", "analytics")
        if (entry := registry.get(name)) is not None
        for op in entry.tool.get_operation_definitions()
        if entry.calls_model(op)
    }
    assert marked == {
        ("configuration", "test_configuration"),
        ("configuration", "compare_configurations"),
        ("configuration", "optimize_prompt"),
        ("analytics", "benchmark_models"),
    }
