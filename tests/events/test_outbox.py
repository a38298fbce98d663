"""The outbox and the dispatcher on SQLite and PostgreSQL: same transaction, once only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import http_receiver, make_settings

from masterai.events import Dispatcher, EventType, WebhookRepository, check_pattern, matches
from masterai.security import UserDirectory, load_principal
from masterai.services.configs import ConfigurationService
from masterai.store import Database
from masterai.store.models.events import DeliveryAttempt, Event, WebhookDelivery


@pytest.fixture
def acme(database: Database) -> Database:
    directory = UserDirectory(database)
    directory.add_company("acme", "Acme")
    directory.add_user("root", "super_admin")
    return database


def test_each_configuration_change_writes_one_event_with_its_version(acme: Database) -> None:
    service = ConfigurationService(acme)
    service.update_prompt("acme", "one", author="root")
    service.update_configuration("acme", {"temperature": 0.2}, author="root")
    service.rollback("acme", 1, author="root")

    with acme.session() as session:
        events = list(session.scalars(select(Event).order_by(Event.id)))

    assert [e.type for e in events] == [
        "configuration.changed",
        "configuration.changed",
        "configuration.rolled_back",
    ]
    assert [e.data["version"] for e in events] == [1, 2, 3]
    assert events[1].data["fields"] == ["temperature"] and events[2].actor == "root"
    assert len({e.uid for e in events}) == 3


def test_an_unchanged_configuration_writes_no_event(acme: Database) -> None:
    service = ConfigurationService(acme)
    service.update_prompt("acme", "same", author="root")
    service.update_prompt("acme", "same", author="root")

    with acme.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1


async def test_concurrent_dispatchers_deliver_each_event_once(
    acme: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    with http_receiver() as receiver:
        WebhookRepository(acme).create(
            load_principal(acme, "root"), event="*", url=receiver.url, secret="x" * 16
        )
        service = ConfigurationService(acme)
        for i in range(5):
            service.update_prompt("acme", f"v{i}", author="root")
        hubs = [Dispatcher(acme, settings.integrations, settings.egress) for _ in range(3)]

        reports = await asyncio.gather(*(h.dispatch_once() for h in hubs))

        assert sum(r.fanned_out for r in reports) == 5
        assert sum(r.delivered for r in reports) == 5
        assert sorted(r.json()["data"]["version"] for r in receiver.requests) == [1, 2, 3, 4, 5]
    with acme.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 5
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 5


def test_patterns_name_known_events_and_match_families() -> None:
    assert check_pattern("configuration.*") == "configuration.*"
    assert matches("configuration.*", EventType.CONFIGURATION_ROLLED_BACK)
    assert not matches("script.*", EventType.CONFIGURATION_CHANGED)
    assert matches("*", EventType.AUDIT_VERIFY_FAILED)
    with pytest.raises(ValueError, match=r"unknown event 'nope\.\*'"):
        check_pattern("nope.*")
