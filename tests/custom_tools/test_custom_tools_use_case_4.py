"""Seed 000's use case 4: the agent builds a competitor-mention monitor on request.

The scripted model turns "I need a tool that checks if our AI ever mentions competitor names"
into a plan: create the tool with the competitor list and trigger ``realtime``, test it,
activate it (approved). The realtime half (importing conversations raises alerts and
webhooks) is the monitors' (tests/monitors); here the runner they call is checked directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from custom_support import context, custom_platform

from masterai.agent import ApproveAll, MasterAI
from masterai.llm import ScriptedModel
from masterai.sandbox import CodeExecutionEnvironment
from masterai.security import load_principal
from masterai.services.custom_tools import CustomToolRunner
from masterai.settings import AgentSettings
from masterai.store import Database

COMPETITORS = ["Globex", "Initech", "Umbrella"]
MONITOR_CODE = """
import re

COMPETITORS = LIST

def run(args, ctx):
    text = args["text"]
    found = [c for c in COMPETITORS if re.search(r"\\b" + re.escape(c) + r"\\b", text, re.I)]
    if not found:
        return {"alert": False}
    return {"alert": True, "severity": "medium", "competitors": found,
            "message": "the assistant named " + ", ".join(found)}
""".replace("LIST", repr(COMPETITORS))
MONITOR: dict[str, Any] = {
    "name": "competitor_mentions",
    "description": "Flags assistant messages that name a competitor",
    "parameters": {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "An assistant message"}},
        "required": ["text"],
    },
    "code": MONITOR_CODE,
    "output_schema": {
        "type": "object",
        "properties": {"alert": {"type": "boolean"}},
        "required": ["alert"],
    },
    "tests": [
        {
            "name": "clean",
            "arguments": {"text": "Our plan costs $10."},
            "expected": {"alert": False},
        },
        {
            "name": "names one",
            "arguments": {"text": "Initech is cheaper, honestly."},
            "assert": {
                "properties": {"alert": {"const": True}, "competitors": {"const": ["Initech"]}}
            },
        },
    ],
    "trigger": "realtime",
    "companies": ["acme"],
}


def step(operation: str, purpose: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": "registry", "operation": operation, "arguments": arguments, "purpose": purpose}


async def test_the_agent_creates_tests_and_activates_a_realtime_competitor_monitor(
    database: Database, tmp_path: Path
) -> None:
    model = ScriptedModel(
        [
            ScriptedModel.call(
                "propose_plan",
                {
                    "summary": "Build a realtime monitor for competitor names in acme's replies",
                    "steps": [
                        step("create_custom_tool", "define the list and the logic", **MONITOR),
                        step("test_custom_tool", "run its tests", name="competitor_mentions"),
                        step(
                            "activate_custom_tool",
                            "watch acme's new assistant messages",
                            name="competitor_mentions",
                            version=1,
                        ),
                    ],
                },
            ),
            ScriptedModel.reply("The competitor monitor is active for acme [1][2][3]."),
        ]
    )
    with custom_platform(database, tmp_path) as platform:
        agent = MasterAI(
            model=model,
            registry=platform.registry,
            approver=ApproveAll(),
            database=database,
            settings=AgentSettings(),
        )

        response = await agent.process_request(
            "I need a tool that checks if our AI ever mentions competitor names "
            f"({', '.join(COMPETITORS)}) in acme's conversations",
            context(platform, "alice", approve=False),
        )

        assert response.status == "completed", response.text
        assert response.actions == (
            "[1] registry.create_custom_tool: ok",
            "[2] registry.test_custom_tool: ok",
            "[3] registry.activate_custom_tool: ok",
        )
        runner = CustomToolRunner(database, CodeExecutionEnvironment(platform.settings))
        [watching] = runner.active_realtime_tools("acme")
        assert (watching.name, watching.owner) == ("competitor_mentions", "alice")
        assert runner.active_realtime_tools("globex") == []
        outcomes = await runner.run_active_batch(
            "competitor_mentions",
            [{"text": "Umbrella has a similar feature."}, {"text": "Happy to help!"}],
            principal=load_principal(database, watching.owner),
        )
        assert [o.value["alert"] for o in outcomes] == [True, False]
        assert outcomes[0].value["competitors"] == ["Umbrella"]
