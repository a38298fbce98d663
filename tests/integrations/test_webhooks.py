"""Webhook subscriptions, the dispatcher, signatures, retries and the dead letter, on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Receiver, make_settings, run

from masterai.events import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    Dispatcher,
    EventType,
    emit,
    verify,
)
from masterai.registry import ToolRegistry
from masterai.security import Principal, UserDirectory
from masterai.services.configs import ConfigurationService
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools import build_registry

SECRET = "s3cret-s3cret-s3cret"


def dispatcher(settings: Settings, store: Database) -> Dispatcher:
    return Dispatcher(store, settings.integrations, settings.egress)


async def subscribe(
    registry: ToolRegistry, who: Principal, url: str, event: str = "configuration.*", **extra: str
) -> int:
    result = await run(registry, who, "setup_webhook", event=event, url=url, secret=SECRET, **extra)
    assert result.ok, result.error
    return int(result.data["result"]["id"])


def change_prompt(store: Database, company: str = "acme", prompt: str = "Be brief.") -> None:
    ConfigurationService(store).update_prompt(company, prompt, author="ada")


async def test_a_configuration_change_reaches_the_receiver_signed(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["ada"], receiver.url + "/hook", company_id="acme")
    change_prompt(store)

    report = await dispatcher(settings, store).dispatch_once()

    assert (report.fanned_out, report.delivered) == (1, 1)
    got = receiver.requests[0]
    assert verify(SECRET, got.body, got.headers)
    body = got.json()
    assert (body["type"], body["company"]) == ("configuration.changed", "acme")
    assert body["data"]["version"] == 1 and body["data"]["fields"] == ["system_prompt"]
    assert body["id"].startswith("evt_") and "time" in body
    assert got.headers[EVENT_HEADER] == "configuration.changed"
    assert got.headers[DELIVERY_HEADER].startswith("dlv_")


async def test_a_tampered_body_or_an_old_timestamp_fails_verification(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["root"], receiver.url, event="*")
    change_prompt(store)
    await dispatcher(settings, store).dispatch_once()
    got = receiver.requests[0]
    stamp = int(got.headers["X-MasterAI-Timestamp"])

    assert not verify(SECRET, got.body.replace(b"acme", b"acmf"), got.headers)
    assert not verify("another-secret-entirely", got.body, got.headers)
    assert not verify(SECRET, got.body, got.headers, now=stamp + 301)


async def test_a_rollback_is_its_own_event_type(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["root"], receiver.url, event="configuration.rolled_back")
    change_prompt(store, prompt="one")
    change_prompt(store, prompt="two")
    ConfigurationService(store).rollback("acme", 1, author="ada")

    report = await dispatcher(settings, store).dispatch_once()

    assert report.fanned_out == 3 and report.delivered == 1
    assert [r.json()["type"] for r in receiver.requests] == ["configuration.rolled_back"]


async def test_a_dry_run_or_failed_change_emits_nothing(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["root"], receiver.url, event="*")
    service = ConfigurationService(store)
    service.update_prompt("acme", "x", author="ada", dry_run=True)
    with pytest.raises(Exception, match="unknown company"):
        service.apply_to_multiple_companies(["acme", "nope"], {"temperature": 0.1}, author="a")

    report = await dispatcher(settings, store).dispatch_once()

    assert report.fanned_out == 0 and receiver.requests == []


async def test_a_company_webhook_never_gets_another_companys_events(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["ada"], receiver.url, company_id="acme")
    change_prompt(store, company="globex")

    report = await dispatcher(settings, store).dispatch_once()

    assert report.fanned_out == 1 and report.attempted == 0 and receiver.requests == []


async def test_a_failing_receiver_is_retried_then_dead_lettered_and_redelivered(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    settings = make_settings(tmp_path, integrations={"webhook_max_attempts": 3})
    registry = build_registry(settings, store)
    await subscribe(registry, people["root"], receiver.url, event="*")
    receiver.default = (503, b"down", {})
    change_prompt(store)
    hub = dispatcher(settings, store)

    reports = [await hub.dispatch_once() for _ in range(3)]

    assert [r.retrying for r in reports] == [1, 1, 0] and reports[-1].dead == 1
    assert len(receiver.requests) == 3
    log = await run(registry, people["root"], "list_deliveries", status="dead")
    (dead,) = log.data["result"]
    assert [a["status_code"] for a in dead["history"]] == [503, 503, 503]
    assert [a["number"] for a in dead["history"]] == [1, 2, 3]
    assert (await hub.dispatch_once()).attempted == 0  # dead letters stay dead

    receiver.default = (204, b"", {})
    again = await run(registry, people["root"], "redeliver", delivery_id=dead["id"])
    assert again.ok and again.data["result"]["status"] == "pending"
    assert (await hub.dispatch_once()).delivered == 1
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # the same event body, re-signed with a fresh timestamp
    log = await run(registry, people["root"], "list_deliveries", webhook=dead["webhook"])
    assert log.data["result"][0]["status"] == "delivered"
    assert len(log.data["result"][0]["history"]) == 4


def test_backoff_doubles_with_jitter_and_is_capped(tmp_path: Path, store: Database) -> None:
    settings = make_settings(
        tmp_path, integrations={"webhook_retry_base": 10, "webhook_retry_cap": 60}
    )
    hub = dispatcher(settings, store)

    delays = {n: [hub.backoff(n) for _ in range(50)] for n in (1, 2, 3, 10)}

    assert all(5 <= d <= 10 for d in delays[1]) and all(10 <= d <= 20 for d in delays[2])
    assert all(20 <= d <= 40 for d in delays[3]) and all(30 <= d <= 60 for d in delays[10])
    assert len(set(delays[1])) > 1  # jittered


async def test_a_loopback_receiver_outside_allowed_networks_is_refused_and_dead_lettered(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    settings = make_settings(tmp_path)
    settings.egress.allowed_networks = []
    registry = build_registry(settings, store)
    await subscribe(registry, people["root"], receiver.url, event="*")
    change_prompt(store)

    report = await dispatcher(settings, store).dispatch_once()

    assert report.dead == 1 and receiver.requests == []
    log = await run(registry, people["root"], "list_deliveries")
    assert "loopback" in log.data["result"][0]["last_error"]


async def test_the_creators_permissions_are_checked_again_at_delivery(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["ada"], receiver.url, company_id="acme")
    UserDirectory(store).set_grant("ada", "integrations.allowed_domains", ["example.com"])
    change_prompt(store)

    report = await dispatcher(settings, store).dispatch_once()

    assert report.dead == 1 and receiver.requests == []
    log = await run(registry, people["root"], "list_deliveries")
    assert "no longer" in log.data["result"][0]["last_error"]
    assert "127.0.0.1" in log.data["result"][0]["last_error"]


async def test_a_deactivated_creators_webhook_delivers_nothing(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["ada"], receiver.url, company_id="acme")
    UserDirectory(store).set_active("ada", False)
    change_prompt(store)

    assert (await dispatcher(settings, store).dispatch_once()).dead == 1
    assert receiver.requests == []


async def test_an_event_is_fanned_out_once_by_two_dispatchers(
    registry: ToolRegistry,
    people: dict[str, Principal],
    receiver: Receiver,
    settings: Settings,
    store: Database,
) -> None:
    await subscribe(registry, people["root"], receiver.url, event="*")
    change_prompt(store)
    first, second = dispatcher(settings, store), dispatcher(settings, store)

    a = await first.dispatch_once()
    b = await second.dispatch_once()

    assert a.fanned_out + b.fanned_out == 1 and a.delivered + b.delivered == 1
    assert len(receiver.requests) == 1


async def test_only_company_writers_manage_company_webhooks(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    viewer = await run(
        registry, people["vic"], "setup_webhook", event="*", url=receiver.url, company_id="acme"
    )
    other = await run(
        registry, people["ada"], "setup_webhook", event="*", url=receiver.url, company_id="globex"
    )
    platform = await run(registry, people["ada"], "setup_webhook", event="*", url=receiver.url)

    assert viewer.status == "denied"  # viewers have read-only integration access
    assert other.status == "denied" and "globex" in (other.error or "")
    assert platform.status == "denied" and "platform" in (platform.error or "")


async def test_webhooks_are_listed_only_to_who_may_see_them_and_removed_with_approval(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    mine = await subscribe(registry, people["ada"], receiver.url, company_id="acme")
    await subscribe(registry, people["root"], receiver.url, company_id="globex")

    seen = await run(registry, people["ada"], "list_webhooks")
    unapproved = await run(registry, people["ada"], "delete_webhook", webhook=mine, approve=False)
    removed = await run(registry, people["ada"], "delete_webhook", webhook=mine)

    assert [h["company_id"] for h in seen.data["result"]] == ["acme"]
    assert "secret" not in json.dumps(seen.data["result"][0]).replace("has_secret", "")
    assert unapproved.status == "denied"
    assert removed.ok
    assert (await run(registry, people["ada"], "list_webhooks")).data["result"] == []


async def test_a_webhook_without_a_secret_gets_one_generated_and_shown_once(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    made = await run(
        registry, people["root"], "setup_webhook", event="test.failed", url=receiver.url
    )

    assert made.ok and len(made.data["result"]["secret"]) >= 32
    listed = await run(registry, people["root"], "list_webhooks")
    assert "secret" not in listed.data["result"][0]


@pytest.mark.parametrize(
    ("event", "url", "problem"),
    [
        ("configuration.changd", "http://127.0.0.1/", "unknown event"),
        ("*", "ftp://127.0.0.1/", "URL"),
    ],
)
async def test_setup_refuses_unknown_events_and_bad_urls(
    registry: ToolRegistry, people: dict[str, Principal], event: str, url: str, problem: str
) -> None:
    result = await run(registry, people["root"], "setup_webhook", event=event, url=url)

    assert result.status in ("invalid", "denied") and problem in (result.error or "")


def test_emit_writes_in_the_callers_transaction_only(store: Database) -> None:
    from masterai.store.models.events import Event

    with pytest.raises(RuntimeError), store.session() as session:
        emit(session, EventType.SECURITY_ALERT, company_id=None, data={"x": 1})
        raise RuntimeError("the change failed")
    with store.session() as session:
        emit(session, EventType.SECURITY_ALERT, company_id=None, data={"x": 2})
    with store.session() as session:
        assert [e.data for e in session.query(Event)] == [{"x": 2}]
