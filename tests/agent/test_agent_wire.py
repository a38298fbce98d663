"""The agent over the real SDK adapters, against loopback servers of each wire protocol."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from agent_tools import NotesTool
from pydantic import SecretStr

from masterai.agent import AgentEvent, ApproveAll, MasterAI
from masterai.llm import build_model
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.settings import LLMSettings, Settings
from masterai.store import Database

# The wire-protocol fakes live with the LLM tests.
sys.path.append(str(Path(__file__).resolve().parents[1] / "llm"))
from llm_wire import AnthropicDialect, FakeServer, OpenAIDialect

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.mark.parametrize("dialect", [OpenAIDialect(), AnthropicDialect()], ids=lambda d: d.name)
async def test_a_plan_streamed_by_a_provider_is_approved_run_and_answered(
    database: Database, dialect: OpenAIDialect | AnthropicDialect
) -> None:
    notes = NotesTool()
    registry = ToolRegistry(database)
    registry.register(notes, category="configuration")
    plan = {
        "summary": "Add a note",
        "steps": [
            {
                "tool": "notes",
                "operation": "add",
                "purpose": "save",
                "arguments": {"company_id": "acme", "text": "from the wire"},
            },
        ],
    }
    events: list[AgentEvent] = []
    with FakeServer() as server:
        server.replies.extend(
            [
                dialect.stream_tool_calls(
                    [("p1", "propose_plan", json.dumps(plan))], usage=(900, 40)
                ),
                dialect.stream_text(["Added ", "the note [1]."], usage=(300, 8)),
            ]
        )
        spec = dialect.spec(server.url)
        settings = Settings(_env_file=None, llm=LLMSettings(model=spec, api_key=SecretStr("k")))  # type: ignore[call-arg]
        model = build_model(settings, spec)
        agent = MasterAI(
            model=model,
            registry=registry,
            approver=ApproveAll(),
            database=database,
            on_event=events.append,
        )
        response = await agent.process_request(
            "note it", ExecutionContext(principal=system_principal("root"))
        )
        await model.aclose()
        planning = server.requests[0].body
    assert response.status == "completed" and response.text == "Added the note [1]."
    assert notes.notes == {"acme": ["from the wire"]}
    assert [e.text for e in events if e.kind == "text"] == ["Added ", "the note [1]."]
    assert dialect.sent_tool_names(planning) == ["propose_plan"]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1200, 48)
    assert response.cost_usd == pytest.approx(
        (1200 * dialect.price[0] + 48 * dialect.price[1]) / 1e6
    )
