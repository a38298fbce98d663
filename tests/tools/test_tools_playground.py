"""simulate_conversation / replay_conversation through the registry, with the scripted model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from masterai.llm import Model, ModelRequest, ModelResponse, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.sandbox import CodeExecutionEnvironment
from masterai.security import Principal, apply_override, role_defaults, system_principal
from masterai.services.configs import ConfigurationService
from masterai.services.custom_tools import CustomToolRunner, CustomToolService, ToolSpec, report_of
from masterai.services.playground import streaming_to
from masterai.services.rag import RagService, SourceDocument, build_embedder
from masterai.services.scripts.suites import TestSuiteService
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import AuditRecord, Company, Conversation, Message
from masterai.store.models.alerts import Alert
from masterai.tools.playground import PlaygroundConfigurationTool
from service_guard import require_service

ROOT = ExecutionContext(principal=system_principal("root"))

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def answering(request: ModelRequest) -> ModelResponse:
    """Kind prompts greet warmly; a question about refunds gets an escalation offer."""
    system = request.messages[0].content if request.messages[0].role == "system" else ""
    question = request.messages[-1].content
    if "price" in question:
        return ScriptedModel.reply("Globex is cheaper, but our plan suits you better.")
    if "refund" in question:
        if "kind" in system.lower():
            return ScriptedModel.reply("I am sorry! Our refund policy is 30 days.")
        return ScriptedModel.reply("Let me transfer you to a human colleague.")
    return ScriptedModel.reply("Hello friend!" if "kind" in system.lower() else "Hi.")


class Models:
    """A model factory that keeps every model it built (to read their requests)."""

    def __init__(self) -> None:
        self.built: list[ScriptedModel] = []

    def __call__(self, spec: str) -> Model:
        model = ScriptedModel([answering] * 20, name=spec, chunk_size=4)
        self.built.append(model)
        return model

    def requests(self) -> list[ModelRequest]:
        return [r for m in self.built for r in m.requests]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, home=tmp_path / "home")  # type: ignore[call-arg]


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def registry(database: Database, settings: Settings, models: Models) -> ToolRegistry:
    with database.session() as session:
        session.add_all([Company(id="acme", name="Acme"), Company(id="globex", name="Globex")])
    configs = ConfigurationService(database)
    configs.update_configuration(
        "acme",
        {"provider": "openai", "model": "gpt-4o-mini", "system_prompt": "Be kind."},
        author="setup",
    )
    configs.update_prompt("acme", "Be terse.", author="setup")
    configs.update_configuration(
        "globex", {"provider": "openai", "model": "gpt-4o-mini"}, author="setup"
    )
    registry = ToolRegistry(database)
    tool = PlaygroundConfigurationTool(configs, settings, database, model_factory=models)
    registry.register(tool, category="configuration")
    return registry


async def simulate(registry: ToolRegistry, context: ExecutionContext = ROOT, **args: Any) -> Any:
    params = {"operation": "simulate_conversation", "company_id": "acme", **args}
    return await registry.execute_tool("configuration", params, context)


def count(database: Database, model: Any) -> int:
    with database.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def test_the_active_version_answers_with_a_trace_of_the_exact_request(
    registry: ToolRegistry, models: Models
) -> None:
    result = await simulate(registry, messages=["hello"])
    assert result.ok, result.error
    (turn,) = result.data["result"]["turns"]
    assert turn["reply"] == "Hi."
    trace = turn["trace"]
    assert trace["request"]["model"] == "openai:gpt-4o-mini"
    assert trace["request"]["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hello"},
    ]
    assert trace["response"]["text"] == "Hi."
    assert trace["input_tokens"] > 0 and trace["output_tokens"] > 0
    assert trace["latency_ms"] >= 0
    assert result.data["result"]["configuration"]["label"] == "acme v2"
    assert models.requests()[0].messages[0].content == "Be terse."


async def test_an_earlier_version_answers_when_asked(registry: ToolRegistry) -> None:
    result = await simulate(registry, messages=["hello"], version=1)
    assert result.ok, result.error
    assert result.data["result"]["turns"][0]["reply"] == "Hello friend!"


async def test_a_draft_answers_without_saving_a_version(
    registry: ToolRegistry, database: Database
) -> None:
    result = await simulate(
        registry, messages=["hello"], draft={"system_prompt": "Be kind.", "temperature": 0.2}
    )
    assert result.ok, result.error
    data = result.data["result"]
    assert data["turns"][0]["reply"] == "Hello friend!"
    assert data["configuration"]["label"] == "acme draft over v2"
    assert data["turns"][0]["trace"]["request"]["temperature"] == 0.2
    assert "system_prompt:" in data["configuration"]["diff"]
    assert ConfigurationService(database).get_configuration("acme").version == 2


async def test_only_customer_messages_without_an_answer_get_a_reply(
    registry: ToolRegistry, models: Models
) -> None:
    messages = [
        "hello",
        {"role": "assistant", "content": "Hi there."},
        {"role": "user", "content": "a refund please"},
    ]
    result = await simulate(registry, messages=messages)
    assert result.ok, result.error
    (turn,) = result.data["result"]["turns"]
    assert turn["message"] == "a refund please"
    assert [m.role for m in models.requests()[0].messages] == [
        "system",
        "user",
        "assistant",
        "user",
    ]


async def test_each_turn_of_a_conversation_sees_the_replies_before_it(
    registry: ToolRegistry, models: Models
) -> None:
    result = await simulate(registry, messages=["hello", "a refund please"])
    assert result.ok, result.error
    assert [t["reply"] for t in result.data["result"]["turns"]] == [
        "Hi.",
        "Let me transfer you to a human colleague.",
    ]
    second = models.requests()[1]
    assert [(m.role, m.content) for m in second.messages[1:3]] == [
        ("user", "hello"),
        ("assistant", "Hi."),
    ]
    assert result.data["result"]["turns"][1]["trace"]["escalation_offered"] is True


async def test_nothing_is_written_to_conversations_and_the_call_is_audited(
    registry: ToolRegistry, database: Database
) -> None:
    before = count(database, Conversation), count(database, Message)
    result = await simulate(registry, messages=["hello"])
    assert result.ok, result.error
    assert (count(database, Conversation), count(database, Message)) == before
    with database.session() as session:
        record = session.get(AuditRecord, result.audit_id)
        assert record is not None
        assert (record.operation, record.status) == ("simulate_conversation", "ok")


async def test_stored_suite_assertions_that_apply_are_reported_as_monitors(
    registry: ToolRegistry, database: Database
) -> None:
    ConfigurationService(database).update_prompt(
        "acme", 'Be terse. Never mention "transfer".', author="setup"
    )
    TestSuiteService(database).generate("acme", sources=["configuration"])
    result = await simulate(registry, messages=["a refund please"])
    assert result.ok, result.error
    monitors = result.data["result"]["turns"][0]["trace"]["monitors"]
    fired = {(m["check"], m["fired"]) for m in monitors}
    assert ("not_contains 'transfer'", True) in fired
    assert all(m["source"] == "test_suite" for m in monitors)
    assert result.data["result"]["totals"]["monitors_fired"] >= 1


async def test_replies_stream_to_a_listener_and_match_the_trace(registry: ToolRegistry) -> None:
    pieces: list[tuple[int, str]] = []
    with streaming_to(lambda turn, text: pieces.append((turn, text))):
        result = await simulate(registry, messages=["hello", "a refund please"])
    assert result.ok, result.error
    replies = [t["reply"] for t in result.data["result"]["turns"]]
    assert "".join(t for n, t in pieces if n == 1) == replies[1]
    assert len([p for p in pieces if p[0] == 1]) > 1  # several pieces, not one block


async def test_rag_settings_put_the_companys_documents_in_the_request(
    registry: ToolRegistry, database: Database, settings: Settings, models: Models
) -> None:
    rag = RagService(database, settings.rag)
    documents = [
        SourceDocument(id="refunds", text="Refunds are possible within 30 days.", metadata={}),
        SourceDocument(id="shipping", text="Shipping takes 3 days.", metadata={}),
    ]
    await rag.index("acme", documents, collection=None, embedder=build_embedder(settings))
    result = await simulate(
        registry,
        messages=["a refund please"],
        draft={"settings": {"rag": {"top_k": 1}}},
    )
    assert result.ok, result.error
    trace = result.data["result"]["turns"][0]["trace"]
    assert [d["id"] for d in trace["retrieved"]] == ["refunds"]
    system = models.requests()[0].messages[0].content
    # the grounding test_configuration uses: the same passages block after the prompt
    assert system.startswith("Be terse.\n\nPassages from the company's knowledge base")
    assert "Refunds are possible within 30 days." in system
    assert "Shipping" not in system
    assert trace["rag"] == {"collection": "default", "top_k": 1}


async def test_a_bad_rag_block_is_one_clear_error(registry: ToolRegistry) -> None:
    result = await simulate(registry, messages=["hi"], draft={"settings": {"rag": {"top_k": 99}}})
    assert not result.ok
    assert "settings.rag.top_k must be 1 to 20, not 99" in (result.error or "")


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        ([], "messages must be a non-empty list"),
        ([{"role": "assistant", "content": "hi"}], "must start with a customer"),
        (["hi", {"role": "bot", "content": "x"}], "messages[1].role must be user or assistant"),
        (["   "], "messages[0] must be non-empty text"),
    ],
)
async def test_bad_messages_name_what_is_wrong(
    registry: ToolRegistry, models: Models, messages: Any, complaint: str
) -> None:
    result = await simulate(registry, messages=messages)
    assert not result.ok
    assert complaint in (result.error or "")
    assert models.built == []


async def test_a_principal_without_model_calls_may_not_simulate(registry: ToolRegistry) -> None:
    permissions = role_defaults("viewer")
    permissions = apply_override(permissions, "data_access.read_companies", ["acme"])
    viewer = Principal(name="vic", role="viewer", permissions=permissions)
    result = await simulate(registry, ExecutionContext(principal=viewer), messages=["hi"])
    assert result.status == "denied"
    assert "model_calls" in (result.error or "")


COMPETITOR_CODE = """
def run(args, ctx):
    named = [c for c in ("Globex", "Initech") if c.lower() in args["text"].lower()]
    if not named:
        return {"alert": False}
    return {"alert": True, "severity": "high", "message": "the assistant named " + named[0]}
"""


async def activate_competitor_monitor(database: Database, settings: Settings) -> None:
    """A realtime custom tool of acme's, owned by root, tested and active."""
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    root, name = ROOT.principal, "competitor_mentions"
    spec = ToolSpec.from_mapping(
        {
            "description": "Watches assistant answers for competitors",
            "code": COMPETITOR_CODE,
            "trigger": "realtime",
            "companies": ["acme"],
            "tests": [{"arguments": {"text": "Hi."}, "expected": {"alert": False}}],
        }
    )
    service = CustomToolService(database)
    service.create(root, name, spec)
    runner = CustomToolRunner(database, CodeExecutionEnvironment(settings))
    outcomes = await runner.run(
        spec, [c["arguments"] for c in spec.tests], principal=root, name=name
    )
    service.record_test(root, name, 1, report_of(outcomes, spec))
    service.activate(root, name, 1)


def custom_monitors(turn: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in turn["trace"]["monitors"] if m["source"] == "custom_tool"]


async def test_a_realtime_custom_tool_fires_on_a_reply_naming_a_competitor_and_stores_nothing(
    registry: ToolRegistry, database: Database, settings: Settings
) -> None:
    await activate_competitor_monitor(database, settings)

    result = await simulate(registry, messages=["what about the price?", "hello"])

    assert result.ok, result.error
    named, plain = result.data["result"]["turns"]
    [fired] = custom_monitors(named)
    assert fired["name"] == "competitor_mentions" and fired["fired"] is True
    assert fired["reason"] == "the assistant named Globex"
    [quiet] = custom_monitors(plain)
    assert quiet["fired"] is False and quiet["reason"] is None
    assert "monitors fired: competitor_mentions" in result.data["summary"]
    assert count(database, Alert) == 0  # the playground writes nothing


async def test_realtime_custom_tools_run_within_the_callers_permissions(
    registry: ToolRegistry, database: Database, settings: Settings
) -> None:
    await activate_competitor_monitor(database, settings)
    permissions = role_defaults("admin")
    permissions = apply_override(permissions, "data_access.write_companies", ["acme"])
    permissions = apply_override(permissions, "model_calls.enabled", True)
    ada = Principal(name="ada", role="admin", permissions=permissions)

    result = await simulate(registry, ExecutionContext(principal=ada), messages=["the price?"])

    assert result.ok, result.error
    [monitor] = custom_monitors(result.data["result"]["turns"][0])
    # the tool is root's and names no role: ada may not call it, so it is not run for her
    assert monitor["fired"] is False
    assert monitor["reason"] == "not run: 'ada' may not call 'competitor_mentions'"


# --- replay ------------------------------------------------------------------------------


def store_conversation(database: Database, company: str, conversation_id: str) -> None:
    with database.session() as session:
        session.add(
            Conversation(id=conversation_id, company_id=company, config_version=1, escalated=True)
        )
        rows = [
            ("user", "hello", 0.0),
            ("assistant", "Hi.", 0.001),
            ("user", "a refund please", 0.0),
            ("assistant", "Let me transfer you to a human colleague.", 0.002),
        ]
        session.add_all(
            Message(conversation_id=conversation_id, seq=n, role=r, content=c, cost_usd=cost)
            for n, (r, c, cost) in enumerate(rows)
        )


async def test_a_stored_conversation_replays_side_by_side_with_the_differences(
    registry: ToolRegistry, database: Database
) -> None:
    store_conversation(database, "acme", "c-1")
    before = count(database, Message)
    params = {
        "operation": "replay_conversation",
        "company_id": "acme",
        "conversation_id": "c-1",
        "draft": {"system_prompt": "Be kind."},
    }
    result = await registry.execute_tool("configuration", params, ROOT)
    assert result.ok, result.error
    data = result.data["result"]
    assert [t["message"] for t in data["turns"]] == ["hello", "a refund please"]
    second = data["turns"][1]
    assert second["original"]["reply"] == "Let me transfer you to a human colleague."
    assert second["new"]["reply"] == "I am sorry! Our refund policy is 30 days."
    assert second["original"]["escalation_offered"] is True
    assert second["new"]["escalation_offered"] is False
    assert second["differences"]["escalation_changed"] is True
    assert second["differences"]["length"] == len(second["new"]["reply"]) - len(
        second["original"]["reply"]
    )
    assert data["totals"]["original_cost_usd"] == 0.003
    assert (
        data["totals"]["original_escalations_offered"],
        data["totals"]["new_escalations_offered"],
    ) == (1, 0)
    assert count(database, Message) == before


async def test_another_companys_conversation_cannot_be_replayed(
    registry: ToolRegistry, database: Database
) -> None:
    store_conversation(database, "globex", "g-1")
    params = {"operation": "replay_conversation", "company_id": "acme", "conversation_id": "g-1"}
    result = await registry.execute_tool("configuration", params, ROOT)
    assert not result.ok
    assert "company 'acme' has no conversation 'g-1'" in (result.error or "")
