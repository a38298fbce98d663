"""The training part of ``aidev``: datasets, fine-tune jobs (wire-level fake), evaluate_model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, serve_fake
from sqlalchemy import select

from masterai.llm import Model, ModelRequest, ModelResponse, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.security.workspace import WorkspaceService
from masterai.services.aidev.datasets import DatasetService
from masterai.services.aidev.finetune import track
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Company, Conversation, Message
from masterai.store.models.aidev import FineTuneJob
from masterai.store.models.events import Event
from masterai.tools.aidev import AIDevTool
from masterai.tools.aidev.training import TrainingPart

ROOT = ExecutionContext(principal=system_principal("root"))


def _conversation(index: int, **extra: Any) -> Conversation:
    conversation = Conversation(
        id=f"c{index}",
        company_id="acme",
        started_at=datetime(2026, 1, 1 + index % 28, tzinfo=UTC),
        resolved=extra.pop("resolved", True),
        escalated=extra.pop("escalated", False),
        satisfaction=extra.pop("satisfaction", 5),
        metadata_=extra.pop("metadata", {"customer_name": "Ann Lee", "topic": "billing"}),
    )
    conversation.messages = [
        Message(seq=1, role="user", content=f"Hi, I am Ann. Refund order {index} to ann@ex.com"),
        Message(seq=2, role="assistant", content=f"Refund {index} started, Ann."),
    ]
    return conversation


def answering(request: ModelRequest) -> ModelResponse:
    question = request.messages[-1].content
    return ScriptedModel.reply("4" if "2+2" in question else "I do not know")


def models(spec: str) -> Model:
    return ScriptedModel([answering] * 50, name=spec)


@pytest.fixture
def db(database: Database) -> Database:
    """Datasets, fine-tune jobs and evaluations are stored: SQLite and PostgreSQL."""
    return database


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with serve_fake() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
        yield fake


@pytest.fixture
def part(db: Database, settings: Settings) -> TrainingPart:
    with db.session() as session:
        session.add(Company(id="acme", name="Acme"))
        session.add_all(_conversation(i) for i in range(12))
        session.add(_conversation(50, escalated=True))
        session.add(_conversation(51, satisfaction=2))
        session.add(_conversation(52, metadata={"topic": "shipping"}))
    datasets = DatasetService(db, WorkspaceService(settings.workspace))
    return TrainingPart(settings, db, datasets, model_factory=models)


@pytest.fixture
def registry(db: Database, part: TrainingPart) -> ToolRegistry:
    registry = ToolRegistry(db)
    registry.register(AIDevTool([part]), category="aidev")
    return registry


async def call(registry: ToolRegistry, **params: Any) -> Any:
    result = await registry.execute_tool("aidev", params, ROOT)
    assert result.ok, result.error
    return result.data["result"]


async def prepare(registry: ToolRegistry, **params: Any) -> Any:
    defaults = {
        "company_id": "acme",
        "filters": {"not_escalated": True, "min_rating": 4, "topics": ["billing"]},
    }
    return await call(registry, operation="prepare_training_data", **(defaults | params))


def lines(settings: Settings, path: str) -> list[dict[str, Any]]:
    text = (settings.workspace / path).read_text()
    return [json.loads(line) for line in text.splitlines()]


async def test_dataset_keeps_only_conversations_passing_the_filters(
    registry: ToolRegistry,
) -> None:
    manifest = await prepare(registry)
    assert manifest["report"]["conversations"] == 12  # escalated, low-rated, shipping left out
    assert manifest["train"]["examples"] + manifest["validation"]["examples"] == 12
    assert manifest["validation"]["examples"] == 2


async def test_dataset_is_openai_chat_jsonl_with_personal_data_scrubbed(
    registry: ToolRegistry, settings: Settings
) -> None:
    manifest = await prepare(registry)
    first = lines(settings, manifest["train"]["path"])[0]
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert "ann@ex.com" not in json.dumps(first) and "Ann" not in json.dumps(first)
    assert "[EMAIL]" in first["messages"][0]["content"]
    assert manifest["scrubbed"] == {"email": 12, "phone": 0, "card": 0, "iban": 0, "name": 24}


async def test_each_prepare_writes_a_new_version(registry: ToolRegistry) -> None:
    first = await prepare(registry, name="billing")
    second = await prepare(registry, name="billing")
    assert first["dataset"] == "companies/acme/datasets/billing/v1"
    assert second["dataset"] == "companies/acme/datasets/billing/v2"


async def test_too_few_examples_is_refused_and_nothing_written(
    registry: ToolRegistry, settings: Settings
) -> None:
    result = await registry.execute_tool(
        "aidev",
        {
            "operation": "prepare_training_data",
            "company_id": "acme",
            "filters": {"topics": ["shipping"]},
        },
        ROOT,
    )
    assert not result.ok
    assert "at least 10" in (result.error or "")
    assert not (settings.workspace / "companies/acme/datasets").exists()


async def test_preference_pairs_only_where_a_better_answer_exists(
    registry: ToolRegistry, settings: Settings
) -> None:
    given = [
        {
            "id": f"g{i}",
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"meh {i}"},
            ],
            "metadata": {"better_answer": f"great {i}"} if i < 10 else {},
        }
        for i in range(12)
    ]
    manifest = await prepare(
        registry, conversations=given, format="preference", validation_fraction=0
    )
    assert manifest["report"]["dropped"]["no_better_answer"] == 2
    pair = lines(settings, manifest["train"]["path"])[0]
    assert pair["preferred_output"][0]["content"].startswith("great")
    assert pair["non_preferred_output"][0]["content"].startswith("meh")
    assert pair["input"]["messages"] == [
        {"role": "user", "content": pair["input"]["messages"][0]["content"]}
    ]


async def test_duplicates_and_bad_roles_are_dropped_and_reported(registry: ToolRegistry) -> None:
    same = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    given = (
        [same] * 3
        + [
            {
                "messages": [
                    {"role": "user", "content": f"q{i}"},
                    {"role": "assistant", "content": "a"},
                ]
            }
            for i in range(10)
        ]
        + [{"messages": [{"role": "user", "content": "no answer"}]}]
    )
    manifest = await prepare(registry, conversations=given, format="generic")
    assert manifest["report"]["dropped"]["duplicate"] == 2
    assert manifest["report"]["dropped"]["roles"] == 1
    assert manifest["report"]["examples"] == 11


async def test_unknown_format_is_one_clear_error(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "aidev",
        {"operation": "prepare_training_data", "company_id": "acme", "format": "csv"},
        ROOT,
    )
    assert not result.ok and result.status == "invalid"


# --- fine-tuning against the wire-level fake -------------------------------------------------


async def start_job(registry: ToolRegistry, **params: Any) -> Any:
    manifest = await prepare(registry)
    return await call(
        registry,
        operation="fine_tune_model",
        model_id="openai:gpt-4o-mini-2024-07-18",
        dataset=manifest["dataset"],
        **params,
    )


async def test_fine_tune_uploads_files_and_creates_a_job(
    registry: ToolRegistry, fake: FakeOpenAI
) -> None:
    job = await start_job(registry, hyperparameters={"n_epochs": 2}, suffix="acme")
    assert job["status"] == "validating_files"
    assert job["provider_job_id"] == "ftjob-1" and job["company_id"] == "acme"
    assert len(fake.uploads) == 2
    assert b'name="purpose"\r\n\r\nfine-tune' in fake.uploads[0]
    assert b"[EMAIL]" in fake.uploads[0]
    created = fake.created[0]
    assert created["model"] == "gpt-4o-mini-2024-07-18"
    assert created["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 2}},
    }
    assert created["validation_file"] == "file-2" and created["suffix"] == "acme"
    assert fake.authorization[0] == "Bearer sk-test-key"


async def test_get_follows_the_job_to_success_and_emits_once(
    registry: ToolRegistry, fake: FakeOpenAI, db: Database
) -> None:
    job = await start_job(registry)
    running = await call(registry, operation="refresh_fine_tune_job", job_id=job["id"])
    assert running["status"] == "running"
    done = await call(registry, operation="refresh_fine_tune_job", job_id=job["id"])
    assert done["status"] == "succeeded"
    assert done["fine_tuned_model"] == "ft:gpt-4o-mini-2024-07-18:acme::ftjob-1"
    assert done["cost_usd"] == 6.0  # 2M tokens at $3 per million
    assert [e["message"] for e in done["events"]] == ["Validating training file", "Step 2"]
    await call(registry, operation="refresh_fine_tune_job", job_id=job["id"])
    with db.session() as session:
        events = session.scalars(select(Event)).all()
        assert [(e.type, e.company_id) for e in events] == [("fine_tune.succeeded", "acme")]
        assert events[0].data["fine_tuned_model"] == done["fine_tuned_model"]


async def test_get_reads_the_stored_job_without_asking_the_provider(
    registry: ToolRegistry, fake: FakeOpenAI, part: TrainingPart
) -> None:
    job = await start_job(registry)
    stored = await call(registry, operation="get_fine_tune_job", job_id=job["id"])
    assert stored["status"] == "validating_files"
    assert fake.retrieves == 0
    operations = part.operations()
    assert operations["get_fine_tune_job"].read_only
    assert not operations["refresh_fine_tune_job"].read_only


async def test_tracker_polls_unfinished_jobs_and_emits_failure(
    registry: ToolRegistry, fake: FakeOpenAI, part: TrainingPart, db: Database
) -> None:
    fake.statuses = ["validating_files", "failed"]
    job = await start_job(registry)
    stop = asyncio.Event()
    task = asyncio.create_task(track(part.fine_tunes(), stop, interval=3600))
    async with asyncio.timeout(5):
        while fake.retrieves < 1:
            await asyncio.sleep(0.01)
    stop.set()
    await task
    stored = await call(registry, operation="get_fine_tune_job", job_id=job["id"])
    assert stored["status"] == "failed" and stored["error"] == "bad lines"
    with db.session() as session:
        assert [e.type for e in session.scalars(select(Event))] == ["fine_tune.failed"]


async def test_cancel_and_list(registry: ToolRegistry, fake: FakeOpenAI) -> None:
    job = await start_job(registry)
    cancelled = await call(registry, operation="cancel_fine_tune_job", job_id=job["id"])
    assert cancelled["status"] == "cancelled"
    listed = await call(registry, operation="list_fine_tune_jobs", company_id="acme")
    assert [j["status"] for j in listed["jobs"]] == ["cancelled"]
    again = await registry.execute_tool(
        "aidev", {"operation": "cancel_fine_tune_job", "job_id": job["id"]}, ROOT
    )
    assert not again.ok and "has finished" in (again.error or "")


async def test_provider_refusal_is_reported_and_no_job_recorded(
    registry: ToolRegistry, fake: FakeOpenAI
) -> None:
    manifest = await prepare(registry)
    result = await registry.execute_tool(
        "aidev",
        {
            "operation": "fine_tune_model",
            "model_id": "openai:refused-model",
            "dataset": manifest["dataset"],
        },
        ROOT,
    )
    assert not result.ok
    assert "model not available for fine-tuning" in (result.error or "")
    assert (await call(registry, operation="list_fine_tune_jobs"))["jobs"] == []


async def test_a_provider_without_fine_tuning_is_a_clear_error(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "aidev",
        {
            "operation": "fine_tune_model",
            "model_id": "anthropic:claude-haiku-4-5",
            "dataset": "companies/acme/datasets/x/v1",
        },
        ROOT,
    )
    assert not result.ok
    assert "'anthropic' has no fine-tuning API" in (result.error or "")


# --- evaluate_model ---------------------------------------------------------------------


CASES = {
    "name": "math",
    "cases": [
        {"input": "2+2?", "expected": "4", "assertions": [{"type": "json_valid"}]},
        {"input": "capital of France?", "expected": "Paris"},
    ],
}


async def test_evaluate_model_reports_pass_rate_per_check_type(registry: ToolRegistry) -> None:
    result = await call(registry, operation="evaluate_model", model_id="base:m", test_set=CASES)
    assert result["pass_rate"] == 0.5
    assert result["pass_rate_by_type"] == {"contains": 0.5, "exact": 0.5, "json_valid": 1.0}
    assert result["cases"] == 2 and result["input_tokens"] > 0
    assert set(result["latency_ms"]) == {"p50", "p95"}


async def test_evaluations_of_two_models_are_compared_in_one_table(
    registry: ToolRegistry,
) -> None:
    await call(registry, operation="evaluate_model", model_id="base:m", test_set=CASES)
    result = await call(registry, operation="evaluate_model", model_id="tuned:m", test_set=CASES)
    assert [row["model"] for row in result["comparison"]] == ["base:m", "tuned:m"]
    again = await call(registry, operation="evaluate_model", model_id="tuned:m", test_set=CASES)
    assert len(again["comparison"]) == 2  # a rerun replaces, it does not add


async def test_evaluate_model_on_a_dataset_validation_split(registry: ToolRegistry) -> None:
    manifest = await prepare(registry)
    result = await call(
        registry,
        operation="evaluate_model",
        model_id="base:m",
        test_set={"dataset": manifest["dataset"]},
    )
    assert result["cases"] == manifest["validation"]["examples"]
    assert result["test_set"] == manifest["dataset"]


async def test_platform_background_runs_the_tracker(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from masterai.app import Platform

    settings = Settings(
        home=tmp_path / "platform",
        integrations={"dispatch": False},  # type: ignore[arg-type]
        jobs={"scheduler": False},  # type: ignore[arg-type]
    )
    platform = Platform(settings)
    try:
        with platform.database.session() as session:
            session.add(Company(id="acme", name="Acme"))
            session.add_all(_conversation(i) for i in range(12))
        context = platform.context(system_principal("root"))
        prepared = await platform.call(
            "aidev", {"operation": "prepare_training_data", "company_id": "acme"}, context
        )
        started = await platform.call(
            "aidev",
            {
                "operation": "fine_tune_model",
                "model_id": "openai:gpt-4o-mini",
                "dataset": prepared.data["result"]["dataset"],
            },
            context,
        )
        assert started.ok, started.error

        def status() -> str:
            with platform.database.session() as session:
                return session.scalars(select(FineTuneJob.status)).one()

        async with platform.background():
            async with asyncio.timeout(5):
                while status() == "validating_files":
                    await asyncio.sleep(0.01)
        assert status() == "running"
        assert fake.retrieves == 1
    finally:
        platform.close()


async def test_evaluate_model_on_a_stored_test_suite(registry: ToolRegistry, db: Database) -> None:
    from masterai.store.models.scripts import TestSuite

    cases = [
        {
            "name": "sum",
            "input": "2+2?",
            "assertions": [{"type": "contains", "value": "4", "case_sensitive": False}],
        },
        {"input": "hello", "assertions": [{"type": "regex", "value": "^I do"}]},
    ]
    with db.session() as session:
        session.add(TestSuite(company_id="acme", version=3, cases=cases))
    result = await call(
        registry, operation="evaluate_model", model_id="base:m", test_set={"suite": "acme"}
    )
    assert (result["test_set"], result["test_set_version"]) == ("suite:acme", "v3")
    assert result["pass_rate_by_type"] == {"contains": 1.0, "regex": 1.0}


async def test_a_missing_test_suite_is_not_found(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "aidev",
        {"operation": "evaluate_model", "model_id": "base:m", "test_set": {"suite": "acme"}},
        ROOT,
    )
    assert result.status == "not_found"
    assert "no stored test suite" in (result.error or "")


# --- read-backs: list_datasets, list_model_evaluations ----------------------------------


def _reader(db: Database, name: str, company: str) -> ExecutionContext:
    from masterai.security import UserDirectory, load_principal

    directory = UserDirectory(db)
    if company != "acme":
        directory.add_company(company, company.title())
    directory.add_user(name, "viewer", companies={company: "read"})
    return ExecutionContext(principal=load_principal(db, name))


async def test_list_datasets_shows_each_version_with_report_and_scrub_counts(
    registry: ToolRegistry, db: Database
) -> None:
    await prepare(registry)
    await prepare(registry, format="generic")
    reader = _reader(db, "vic", "acme")
    listed = await registry.execute_tool(
        "aidev", {"operation": "list_datasets", "company_id": "acme"}, reader
    )
    assert listed.ok, listed.error
    (dataset,) = listed.data["result"]["datasets"]
    assert dataset["name"] == "conversations"
    assert [(v["version"], v["format"]) for v in dataset["versions"]] == [
        (2, "generic"),
        (1, "openai_chat"),
    ]
    assert dataset["versions"][1]["scrubbed"]["email"] == 12
    assert dataset["versions"][1]["report"]["valid"] is True
    outsider = _reader(db, "gus", "globex")
    denied = await registry.execute_tool(
        "aidev", {"operation": "list_datasets", "company_id": "acme"}, outsider
    )
    assert denied.status == "denied"
    empty = await call(registry, operation="list_datasets", company_id="globex")
    assert empty["datasets"] == []


async def test_list_model_evaluations_groups_comparable_rows_per_test_set(
    registry: ToolRegistry, db: Database
) -> None:
    manifest = await prepare(registry)
    await call(registry, operation="evaluate_model", model_id="base:m", test_set=CASES)
    await call(registry, operation="evaluate_model", model_id="tuned:m", test_set=CASES)
    on_dataset = {"dataset": manifest["dataset"]}
    await call(registry, operation="evaluate_model", model_id="base:m", test_set=on_dataset)
    everything = await call(registry, operation="list_model_evaluations")
    groups = {(g["test_set"], g["company_id"]): g for g in everything["evaluations"]}
    assert set(groups) == {("math", None), (manifest["dataset"], "acme")}
    rows = groups["math", None]["rows"]
    assert [r["model"] for r in rows] == ["base:m", "tuned:m"]
    assert rows[0]["pass_rate"] == 0.5 and rows[0]["cases"] == 2
    only = await call(registry, operation="list_model_evaluations", test_set_name="math")
    assert [g["test_set"] for g in only["evaluations"]] == ["math"]
    tuned = await call(registry, operation="list_model_evaluations", model_id="tuned:m")
    assert [g["test_set"] for g in tuned["evaluations"]] == ["math"]
    # A dataset's results are its company's: hidden from a reader of another company.
    outsider = _reader(db, "gus", "globex")
    seen = await registry.execute_tool("aidev", {"operation": "list_model_evaluations"}, outsider)
    assert [g["test_set"] for g in seen.data["result"]["evaluations"]] == ["math"]
