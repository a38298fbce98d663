"""Use case 4, second half: a realtime custom tool watching for competitor names raises alerts
on imported conversations and a webhook receives them; a realtime tool that tries the network
gets the sandbox's refusal and a security alert."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monitor_support import conversation_line
from sqlalchemy import select

from masterai.app import Platform
from masterai.events import Dispatcher
from masterai.registry import ExecutionContext, approve_all
from masterai.security import UserDirectory
from masterai.settings import Settings
from masterai.store.models import AuditRecord
from masterai.store.models.alerts import Alert
from service_guard import require_service

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
COMPETITOR_CODE = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)[0]
"""The competitor-mention tool of docs/alerts.md, run as documented."""
TESTS = [
    {"arguments": {"text": "Initech is cheaper"}, "expected": {
        "alert": True, "severity": "high", "kind": "competitor_mention",
        "message": "the assistant named Initech", "competitors": ["Initech"]}},
    {"arguments": {"text": "Our plan suits you"}, "expected": {"alert": False}},
]  # fmt: skip
NETWORK_CODE = """
import socket
import sys

def run(args, ctx):
    try:  # phones home, and hides the failure from its result
        socket.create_connection(("93.184.216.34", 80), timeout=2)
    except OSError as e:
        print(e, file=sys.stderr)
    return {"alert": False}
"""
QUIET_TESTS = [{"arguments": {"text": "hi"}, "expected": {"alert": False}}]


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    platform = Platform(settings)
    directory = UserDirectory(platform.database)
    directory.add_company("acme", "Acme")
    directory.add_user("root", "super_admin")
    platform.ensure_audit_key()
    yield platform
    platform.close()


def realtime_batches(platform: Platform) -> list[AuditRecord]:
    """The audit records of the monitor loop's realtime batches, oldest first."""
    with platform.database.session() as session:
        return list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.operation == "run_realtime_batch")
                .order_by(AuditRecord.id)
            )
        )


async def call(platform: Platform, tool: str, **args: Any) -> Any:
    context = ExecutionContext(principal=platform.principal("root"), approver=approve_all)
    result = await platform.call(tool, args, context)
    assert result.ok, result.error
    return result.data


async def activate_realtime(platform: Platform, name: str, code: str, tests: list[Any]) -> None:
    await call(
        platform, "registry", operation="create_custom_tool", name=name,
        description="Watches assistant answers", code=code, tests=tests,
        parameters={"type": "object", "properties": {"text": {"type": "string"}},
                    "required": ["text"]},
        trigger="realtime", companies=["acme"],
    )  # fmt: skip
    tested = await call(platform, "registry", operation="test_custom_tool", name=name)
    assert "fail" not in str(tested["summary"]).lower(), tested
    await call(platform, "registry", operation="activate_custom_tool", name=name, version=1)


async def test_assistant_answers_naming_a_competitor_raise_alerts_and_reach_a_webhook(
    platform: Platform, receiver: Any
) -> None:
    await activate_realtime(platform, "competitor_mentions", COMPETITOR_CODE, TESTS)
    await call(
        platform, "integration", operation="setup_webhook", event="custom_tool.alert",
        url=receiver.url, company_id="acme",
    )  # fmt: skip
    content = conversation_line("c1", "Globex is fine, but we are better.") + conversation_line(
        "c2", "Happy to help with your order."
    )

    await call(
        platform, "analytics", operation="import_conversations", format="jsonl", content=content
    )
    report = await platform.monitor_processor().process_once()
    settings = platform.settings
    sent = await Dispatcher(
        platform.database, settings.integrations, settings.egress
    ).dispatch_once()

    with platform.database.session() as session:
        [alert] = session.scalars(select(Alert).where(Alert.source == "competitor_mentions"))
    assert alert.conversation_id == "c1" and alert.severity == "high"
    assert alert.details["result"]["competitors"] == ["Globex"]
    assert report.runs == 2 and report.failures == 0
    [batch] = realtime_batches(platform)
    assert (batch.user_name, batch.status) == ("root", "ok")  # as the tool's owner
    assert batch.client_address.startswith("monitors@")
    assert [m["conversation_id"] for m in batch.params["messages"]] == ["c1", "c2"]
    assert sent.delivered == 1
    body = receiver.requests[0].json()
    assert body["type"] == "custom_tool.alert" and body["data"]["message_id"] == alert.message_id


async def test_a_realtime_tool_that_tries_the_network_raises_a_security_alert(
    platform: Platform,
) -> None:
    await activate_realtime(platform, "phones_home", NETWORK_CODE, QUIET_TESTS)
    await call(
        platform, "analytics", operation="import_conversations", format="jsonl",
        content=conversation_line("c1", "Hello there."),
    )  # fmt: skip

    report = await platform.monitor_processor().process_once()

    with platform.database.session() as session:
        found = list(session.scalars(select(Alert).where(Alert.source == "sandbox_refusal")))
    assert report.runs == 1
    assert found and found[0].details["tool"] == "phones_home"
    assert "network" in found[0].details["refused"]


async def test_each_tool_and_batch_is_one_audited_registry_call(platform: Platform) -> None:
    await activate_realtime(platform, "competitor_mentions", COMPETITOR_CODE, TESTS)
    await activate_realtime(platform, "phones_home", NETWORK_CODE, QUIET_TESTS)
    lines = [conversation_line(f"c{i}", "Initech is cheaper.", "Bye.") for i in range(3)]
    await call(
        platform, "analytics", operation="import_conversations", format="jsonl",
        content="".join(lines),
    )  # fmt: skip

    report = await platform.monitor_processor().process_once()
    again = await platform.monitor_processor().process_once()

    batches = realtime_batches(platform)
    assert report.runs == 12 and again.runs == 0
    assert sorted(b.params["name"] for b in batches) == ["competitor_mentions", "phones_home"]
    assert all(len(b.params["messages"]) == 6 and b.status == "ok" for b in batches)
    with platform.database.session() as session:
        mentions = session.scalars(select(Alert).where(Alert.source == "competitor_mentions"))
        refusals = list(session.scalars(select(Alert).where(Alert.source == "sandbox_refusal")))
        assert len(list(mentions)) == 3  # one per message naming Initech, none twice
    # one per message, raised by the loop; the audit monitors do not raise it again
    assert len(refusals) == 6 and all(a.message_id is not None for a in refusals)


async def test_only_the_owner_or_a_super_admin_runs_a_realtime_batch(platform: Platform) -> None:
    await activate_realtime(platform, "competitor_mentions", COMPETITOR_CODE, TESTS)
    UserDirectory(platform.database).add_user("ada", "admin", companies={"acme": "write"})
    params = {
        "operation": "run_realtime_batch", "name": "competitor_mentions", "company_id": "acme",
        "messages": [{"id": 1, "role": "assistant", "content": "Globex!", "conversation_id": "c"}],
    }  # fmt: skip

    as_ada = ExecutionContext(principal=platform.principal("ada"))
    refused = await platform.call("registry", params, as_ada)
    as_root = ExecutionContext(principal=platform.principal("root"))
    ran = await platform.call("registry", params, as_root)
    offered = {
        op.name
        for listing in platform.registry.list_tools(platform.principal("root"))
        for op in listing.operations
    }

    assert refused.status == "denied" and "owner" in (refused.error or "")
    assert ran.ok and ran.data["result"]["outcomes"][0]["value"]["competitors"] == ["Globex"]
    assert "run_realtime_batch" not in offered and "create_custom_tool" in offered
    assert "runs_code" in {e.value for e in ran.call.effects}
