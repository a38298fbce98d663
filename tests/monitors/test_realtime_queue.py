"""Ingested messages are queued durably and processed in batches; the audit watermark holds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from monitor_support import conversation_line
from sqlalchemy import func, select
from support import make_settings

from masterai.app import Platform
from masterai.registry import ExecutionContext, ToolRegistry, approve_all
from masterai.security import Principal, UserDirectory, system_principal
from masterai.services.alerts import MonitorProcessor, backlog
from masterai.services.alerts.processor import AUDIT_CURSOR
from masterai.services.alerts.queue import claim
from masterai.services.importer import import_conversations_text
from masterai.settings import MonitorSettings
from masterai.store import Database
from masterai.store.models.alerts import Alert, MonitorCursor, MonitorQueueItem


def queued(store: Database) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(MonitorQueueItem.id))) or 0)


async def test_an_import_through_the_registry_queues_every_message_in_its_transaction(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    content = conversation_line("c1", "Hi!", "Anything else?") + conversation_line("c2", "Bye")
    context = ExecutionContext(principal=people["ada"], approver=approve_all)

    result = await registry.execute_tool(
        "analytics", {"operation": "import_conversations", "format": "jsonl", "content": content},
        context,
    )  # fmt: skip

    assert result.ok, result.error
    assert queued(store) == 5  # two user messages, three assistant answers


async def test_a_refused_import_queues_nothing(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    content = conversation_line("c1", "Hi!") + "{not json\n"
    context = ExecutionContext(principal=people["ada"], approver=approve_all)

    result = await registry.execute_tool(
        "analytics", {"operation": "import_conversations", "format": "jsonl", "content": content},
        context,
    )  # fmt: skip

    assert not result.ok and queued(store) == 0


async def test_a_round_processes_a_batch_and_leaves_the_rest_for_the_next(
    people: dict[str, Principal], store: Database
) -> None:
    lines = "".join(conversation_line(f"c{i}", "Fine.") for i in range(3))  # 6 messages
    import_conversations_text(store, lines, fmt="jsonl")
    processor = MonitorProcessor(store, MonitorSettings(batch_size=4))

    first = await processor.process_once()
    second = await processor.process_once()

    assert (first.messages, second.messages, queued(store)) == (4, 2, 0)


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_a_claimed_batch_is_not_claimed_again_until_its_lease_ends(database: Database) -> None:
    UserDirectory(database).add_company("acme", "Acme")
    import_conversations_text(database, conversation_line("c1", "Fine."), fmt="jsonl")

    taken = claim(database, limit=10, lease_seconds=60)
    again = claim(database, limit=10, lease_seconds=60)

    assert len(taken) == 2 and again == []
    assert {m.role for m in taken} == {"user", "assistant"}


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_a_batch_whose_processor_died_is_taken_again_after_its_lease(database: Database) -> None:
    UserDirectory(database).add_company("acme", "Acme")
    import_conversations_text(database, conversation_line("c1", "Fine."), fmt="jsonl")
    claim(database, limit=10, lease_seconds=0)

    retaken = claim(database, limit=10, lease_seconds=60)

    assert len(retaken) == 2 and {m.attempts for m in retaken} == {2}


async def test_each_audit_record_is_examined_once_across_restarts(
    registry: ToolRegistry, people: dict[str, Principal], store: Database, settings: Any
) -> None:
    context = ExecutionContext(principal=people["ada"])
    for _ in range(3):
        await registry.execute_tool("clock", {"operation": "get_time"}, context)

    first = await MonitorProcessor(store, settings.monitors).process_once()
    after_restart = await MonitorProcessor(store, settings.monitors).process_once()

    assert first.audit_records == 3 and after_restart.audit_records == 0


async def test_the_backlog_shows_waiting_messages_their_lag_and_unexamined_records(
    registry: ToolRegistry, people: dict[str, Principal], store: Database, settings: Any
) -> None:
    await registry.execute_tool(
        "clock", {"operation": "get_time"}, ExecutionContext(principal=system_principal("root"))
    )
    import_conversations_text(store, conversation_line("c1", "Fine."), fmt="jsonl")
    processor = MonitorProcessor(store, settings.monitors)

    position, head = processor.audit_position()
    before = backlog(store, audit_position=position, audit_head=head)
    await processor.process_once()
    position, head = processor.audit_position()
    after = backlog(store, audit_position=position, audit_head=head)

    assert (before.messages, before.audit_records) == (2, 1) and before.lag_seconds >= 0
    assert before.oldest_enqueued_at is not None
    assert (after.messages, after.audit_records, after.lag_seconds) == (0, 0, 0.0)


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_a_round_stores_alerts_and_moves_the_watermark_on_both_engines(
    database: Database,
) -> None:
    UserDirectory(database).add_company("acme", "Acme")
    leaked = conversation_line("c1", "Use the key AKIAABCDEFGHIJKLMNOP to log in.")
    import_conversations_text(database, leaked, fmt="jsonl")
    processor = MonitorProcessor(database, MonitorSettings())

    report = await processor.process_once()

    assert (report.messages, report.alerts) == (2, 1)
    assert processor.audit_position() == (0, 0)  # no audit records on this store
    with database.session() as session:
        assert session.scalar(select(func.count(MonitorQueueItem.id))) == 0


async def test_the_platform_background_runs_the_monitors(tmp_path: Any) -> None:
    platform = Platform(make_settings(tmp_path, monitors=MonitorSettings(poll_seconds=0.05)))
    platform.settings.integrations.dispatch = False
    platform.settings.jobs.scheduler = False
    platform.settings.aidev.fine_tune_tracker = False
    UserDirectory(platform.database).add_company("acme", "Acme")
    leaked = conversation_line("c1", "The password=hunter2-hunter2 works.")
    try:
        async with platform.background():
            import_conversations_text(platform.database, leaked, fmt="jsonl")
            async with asyncio.timeout(10):
                while not alerts_of(platform.database, Alert):
                    await asyncio.sleep(0.05)
        [alert] = alerts_of(platform.database, Alert)
        assert alert.source == "secret_in_message" and alert.conversation_id == "c1"
    finally:
        platform.close()


def alerts_of(database: Database, model: Any) -> list[Any]:
    with database.session() as session:
        return list(session.scalars(select(model)))


async def test_a_processor_starting_beside_another_takes_the_audit_cursor_it_created(
    database: Database,
) -> None:
    """Two processors' first rounds at once: one adds the audit cursor, the other waits for it.

    The second used to add it too and fail on the primary key (restarting 5 s later).
    """
    processor = MonitorProcessor(database, MonitorSettings())
    with database.engine.connect() as other:  # the other processor, its round not committed
        other.execute(sa.insert(MonitorCursor).values(name=AUDIT_CURSOR, position=0))
        # The audit half of a round (its queue half would wait for the other's lock first).
        examined = asyncio.create_task(asyncio.to_thread(processor._examine_audit))
        await asyncio.sleep(0.5)
        assert not examined.done()  # it waits for the other processor's cursor
        other.commit()
    assert await examined == (0, 0)
    with database.session() as session:
        assert session.get(MonitorCursor, AUDIT_CURSOR) is not None
