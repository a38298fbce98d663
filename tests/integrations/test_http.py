"""``call_webhook`` and ``make_api_call`` against receivers on loopback."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from support import Receiver, make_settings, run

from masterai.events import verify
from masterai.registry import ToolRegistry
from masterai.security import Principal
from masterai.settings import NamedApi
from masterai.store import Database
from masterai.tools import build_registry


async def test_call_webhook_posts_json_signed_and_reports_status_and_latency(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    receiver.default = (202, b'{"queued": 1}', {"X-Trace": "t1"})

    result = await run(
        registry,
        people["ada"],
        "call_webhook",
        url=receiver.url + "/in",
        payload={"alert": "costs up"},
        secret="0123456789abcdef",
        headers={"X-Team": "ops"},
    )

    assert result.ok, result.error
    got = receiver.requests[0]
    assert (got.method, got.path, got.json()) == ("POST", "/in", {"alert": "costs up"})
    assert got.headers["X-Team"] == "ops"
    assert verify("0123456789abcdef", got.body, got.headers)
    out = result.data["result"]
    assert (out["status"], out["body"], out["headers"]["x-trace"]) == (202, {"queued": 1}, "t1")
    assert out["latency_ms"] > 0


async def test_call_webhook_needs_approval(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    result = await run(
        registry, people["ada"], "call_webhook", url=receiver.url, payload={}, approve=False
    )

    assert result.status == "denied" and receiver.requests == []


async def test_a_domain_outside_the_callers_allowed_domains_is_denied_by_policy(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    result = await run(
        registry, people["ada"], "call_webhook", url="http://localhost:9/x", payload={}
    )

    assert result.status == "denied" and "localhost" in (result.error or "")


async def test_the_egress_guard_refuses_loopback_outside_allowed_networks(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    settings = make_settings(tmp_path)
    settings.egress.allowed_networks = ["10.0.0.0/8"]
    registry = build_registry(settings, store)

    result = await run(registry, people["root"], "call_webhook", url=receiver.url, payload={})

    assert result.status == "failed" and "loopback" in (result.error or "")
    assert receiver.requests == []


async def test_a_get_is_retried_after_503_and_a_post_is_not(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    receiver.answers = [(503, b"busy", {}), (503, b"busy", {})]

    get = await run(registry, people["ada"], "make_api_call", endpoint=receiver.url + "/a")
    receiver.answers = [(503, b"busy", {})]
    post = await run(
        registry,
        people["ada"],
        "make_api_call",
        endpoint=receiver.url + "/b",
        method="POST",
        body={"n": 1},
    )

    assert get.ok and get.data["result"]["attempts"] == 3 and get.data["result"]["status"] == 200
    assert post.ok and post.data["result"]["attempts"] == 1 and post.data["result"]["status"] == 503
    assert [r.method for r in receiver.requests] == ["GET", "GET", "GET", "POST"]


async def test_retries_stop_at_the_limit_with_the_last_answer(
    registry: ToolRegistry, people: dict[str, Principal], receiver: Receiver
) -> None:
    receiver.default = (502, b"bad gateway", {"Content-Type": "text/plain"})

    result = await run(registry, people["ada"], "make_api_call", endpoint=receiver.url)

    assert result.ok and result.data["result"]["status"] == 502
    assert result.data["result"]["attempts"] == 3 and result.data["result"]["body"] == "bad gateway"


async def test_a_named_api_gets_its_credential_and_never_shows_its_base_url(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    api = NamedApi(
        base_url=receiver.url + "/v2", headers={"Authorization": SecretStr("Bearer top-secret")}
    )
    settings = make_settings(tmp_path, integrations={"apis": {"crm": api}})
    settings.egress.allowed_networks = []  # a configured API is reached as configured
    registry = build_registry(settings, store)

    result = await run(
        registry,
        people["root"],
        "make_api_call",
        endpoint="crm/contacts",
        query={"q": "ann"},
        headers={"Authorization": "Bearer caller"},
    )

    assert result.ok, result.error
    got = receiver.requests[0]
    assert got.path == "/v2/contacts?q=ann"
    assert got.headers["Authorization"] == "Bearer top-secret"
    assert receiver.url not in result.content and "top-secret" not in result.content


async def test_a_named_api_path_cannot_climb_out_of_its_base(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    settings = make_settings(
        tmp_path, integrations={"apis": {"crm": NamedApi(base_url=receiver.url + "/v2")}}
    )
    registry = build_registry(settings, store)

    result = await run(registry, people["root"], "make_api_call", endpoint="crm/../admin")

    assert result.status == "invalid" and receiver.requests == []


async def test_a_named_api_the_caller_may_not_use_is_denied(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    settings = make_settings(
        tmp_path, integrations={"apis": {"crm": NamedApi(base_url=receiver.url)}}
    )
    registry = build_registry(settings, store)

    result = await run(registry, people["ada"], "make_api_call", endpoint="crm/contacts")

    assert result.status == "denied" and "'crm'" in (result.error or "")


async def test_an_unknown_named_api_is_reported_with_the_known_ones(
    registry: ToolRegistry, people: dict[str, Principal]
) -> None:
    result = await run(registry, people["root"], "make_api_call", endpoint="nope/x")

    assert result.status == "not_found" and "unknown API 'nope'" in (result.error or "")


async def test_a_large_response_is_cut_at_the_preview_size(
    people: dict[str, Principal], receiver: Receiver, tmp_path: Path, store: Database
) -> None:
    settings = make_settings(tmp_path, integrations={"response_preview_bytes": 100})
    registry = build_registry(settings, store)
    receiver.default = (200, b"x" * 5000, {"Content-Type": "text/plain"})

    result = await run(registry, people["root"], "make_api_call", endpoint=receiver.url)

    assert result.data["result"]["truncated"] is True
    assert result.data["result"]["body"] == "x" * 100
