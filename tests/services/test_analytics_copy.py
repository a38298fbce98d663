"""The DuckDB analytics copy follows the store: appends, outcome updates, replaced rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from services_data import at, msg

from masterai.services.analytics import AnalyticsService
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Conversation, Message


def test_copy_adds_only_new_messages_and_reloads_changed_conversations(
    analytics: AnalyticsService, loaded: Database
) -> None:
    first = analytics.refresh()
    assert (first.rebuilt, first.messages_added) == (True, 12)
    assert analytics.refresh().messages_added == 0
    with loaded.session() as session:
        session.add(
            Conversation(
                id="c4",
                company_id="acme",
                started_at=at(3, 8),
                messages=[
                    msg(0, "user", "Hello", at(3, 8)),
                    msg(1, "assistant", "Hi!", at(3, 8, 1), latency_ms=400),
                ],
            )
        )
    report = analytics.refresh()
    assert (report.rebuilt, report.conversations_reloaded, report.messages_added) == (
        False,
        True,
        2,
    )
    assert analytics.analyze_conversations(analytics.scope(company_id="acme")).conversations == 4
    with loaded.session() as session:
        session.execute(
            sa.update(Conversation).where(Conversation.id == "c3").values(satisfaction=1)
        )
    report = analytics.refresh()
    assert (report.conversations_reloaded, report.messages_added) == (True, 0)
    sat = analytics.measure_satisfaction(analytics.scope(company_id="acme"))
    assert sat.distribution["1"] == 1


def test_copy_rebuilds_when_a_conversation_is_replaced_and_ids_are_reused(
    analytics: AnalyticsService, loaded: Database
) -> None:
    analytics.refresh()
    with loaded.session() as session:
        session.execute(sa.delete(Message).where(Message.conversation_id == "g2"))
        session.execute(sa.delete(Conversation).where(Conversation.id == "g2"))
    with loaded.session() as session:  # SQLite hands the freed message ids out again
        session.add(
            Conversation(
                id="g3",
                company_id="globex",
                started_at=at(4, 9),
                messages=[
                    msg(0, "user", "Bonjour", at(4, 9)),
                    msg(1, "assistant", "Hello", at(4, 9, 1), latency_ms=100),
                ],
            )
        )
    assert analytics.refresh().rebuilt
    result = analytics.analyze_conversations(analytics.scope(company_id="globex"))
    assert (result.conversations, result.messages, result.escalation_rate) == (2, 4, 0)
    assert analytics.refresh(rebuild=True).rebuilt


def test_services_sharing_a_copy_file_can_be_used_from_several_threads(
    analytics: AnalyticsService, loaded: Database, settings: Settings, tmp_path: Path
) -> None:
    other = AnalyticsService(loaded, settings, copy_dir=tmp_path / "copy")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda s: s.analyze_conversations(s.scope()).conversations,
                [analytics, other] * 4,
            )
        )
    assert results == [5] * 8
