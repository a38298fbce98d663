"""Chat over HTTP with a scripted model: the SSE stream, plans that wait, their decisions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sse import done, kinds, read_events, stream, text

from masterai.api import create_app
from masterai.app import Platform
from masterai.llm import NO_MODEL_MESSAGE
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import LLMSettings, Settings

Script = Callable[..., None]


def plan(*steps: dict[str, Any], text: str = "") -> dict[str, Any]:
    arguments = {"summary": "s", "steps": list(steps)}
    return {"text": text, "tool_calls": [{"name": "propose_plan", "arguments": arguments}]}


def write(path: str, content: str, **extra: Any) -> dict[str, Any]:
    arguments = {"path": f"shared/{path}", "content": content}
    return {"tool": "filesystem", "operation": "write_file", "arguments": arguments,
            "purpose": "save", **extra}  # fmt: skip


CLOCK = {"tool": "clock", "operation": "get_time", "arguments": {}, "purpose": "know the time"}


def settings(home: Path, scripts: Path, *, model: str | None = "scripted:script.json") -> Settings:
    return Settings(home=home, llm=LLMSettings(model=model, scripted_dir=scripts))


def set_up(platform: Platform) -> None:
    root = platform.context(system_principal("setup"), approver=approve_all)
    for params in (
        {"operation": "add_company", "company_id": "acme", "company_name": "Acme"},
        {"operation": "add_user", "name": "admin", "role": "super_admin"},
        {"operation": "add_user", "name": "vic", "role": "viewer"},
    ):
        assert platform.call_sync("admin", params, root).ok


def bearer(platform: Platform, name: str) -> dict[str, str]:
    root = platform.context(system_principal("setup"))
    issued = platform.call_sync("admin", {"operation": "issue_token", "name": name}, root)
    return {"authorization": f"Bearer {issued.data['result']['token']}"}


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    return folder


@pytest.fixture
def script(scripts: Path) -> Script:
    def write_script(*steps: dict[str, Any]) -> None:
        (scripts / "script.json").write_text(json.dumps(list(steps)))

    return write_script


@pytest.fixture
def platform(tmp_path: Path, scripts: Path) -> Platform:
    platform = Platform(settings(tmp_path / "home", scripts))
    set_up(platform)
    return platform


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    return bearer(platform, "admin")


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    platform.close()


def written(platform: Platform, name: str) -> str | None:
    path = platform.settings.home / "workspace" / "shared" / name
    return path.read_text() if path.exists() else None


async def test_a_direct_answer_streams_text_then_done(
    client: httpx.AsyncClient, script: Script, admin: dict[str, str]
) -> None:
    script({"text": "Hello there, how can I help?"})
    events = await stream(client, "/api/v1/chat", json_body={"message": "hi"}, headers=admin)
    assert kinds(events) == ["text", "done"]
    assert text(events) == "Hello there, how can I help?"
    answer = done(events)
    assert (answer["status"], answer["text"], answer["plans"]) == (
        "answered",
        "Hello there, how can I help?",
        [],
    )
    assert len(answer["conversation_id"]) == 32


async def test_a_plan_that_needs_approval_ends_the_stream_and_waits_stored(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")))
    events = await stream(client, "/api/v1/chat", json_body={"message": "write"}, headers=admin)
    assert kinds(events) == ["plan", "done"]
    proposed = events[0].data
    assert (proposed["status"], proposed["waiting_for"]) == ("proposed", "approval")
    step = proposed["steps"][0]
    assert (step["tool"], step["operation"], step["read_only"], step["status"]) == (
        "filesystem",
        "write_file",
        False,
        "pending",
    )
    answer = done(events)
    assert answer["status"] == "awaiting_approval"
    assert [p["id"] for p in answer["plans"]] == [proposed["id"]]
    assert written(platform, "a.txt") is None

    stored = (await client.get(f"/api/v1/plans/{proposed['id']}", headers=admin)).json()
    assert (stored["status"], stored["waiting_for"], stored["decisions"]) == (
        "proposed",
        "approval",
        [],
    )
    listed = (await client.get("/api/v1/plans", headers=admin)).json()
    assert [p["id"] for p in listed] == [proposed["id"]]


async def chat_plan(
    client: httpx.AsyncClient, headers: dict[str, str], message: str = "go"
) -> dict[str, Any]:
    events = await stream(client, "/api/v1/chat", json_body={"message": message}, headers=headers)
    assert done(events)["status"] == "awaiting_approval", events
    plan: dict[str, Any] = done(events)["plans"][-1]
    return plan


async def test_approving_a_waiting_plan_runs_it_and_streams_the_steps(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")), {"text": "Wrote a.txt [1]."})
    plan_id = (await chat_plan(client, admin))["id"]

    events = await stream(client, f"/api/v1/plans/{plan_id}/approve", headers=admin)
    assert kinds(events) == ["plan", "step_started", "step_finished", "text", "done"]
    # Each event shows the plan as it was when sent, not as it ended.
    assert [s["status"] for s in events[0].data["steps"]] == ["pending"]
    assert events[1].data["step"]["status"] == "running"
    finished = events[2].data
    assert finished["plan_id"] == plan_id
    assert (finished["step"]["status"], finished["step"]["result"]["ok"]) == ("succeeded", True)
    answer = done(events)
    assert (answer["status"], answer["text"]) == ("completed", "Wrote a.txt [1].")
    assert answer["actions"] == ["[1] filesystem.write_file: ok"]
    assert written(platform, "a.txt") == "hi"

    stored = (await client.get(f"/api/v1/plans/{plan_id}", headers=admin)).json()
    assert (stored["status"], stored["waiting_for"]) == ("completed", None)
    assert [(d["decision"], d["actor"]) for d in stored["decisions"]] == [("approve_all", "admin")]


async def test_a_plan_is_approved_only_once(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")), {"text": "Done."})
    plan_id = (await chat_plan(client, admin))["id"]
    await stream(client, f"/api/v1/plans/{plan_id}/approve", headers=admin)
    again = await client.post(f"/api/v1/plans/{plan_id}/approve", headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["status"] == "conflict"
    assert "is completed" in again.json()["error"]["message"]


async def test_rejecting_a_waiting_plan_runs_nothing(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")))
    plan_id = (await chat_plan(client, admin))["id"]
    rejected = await client.post(
        f"/api/v1/plans/{plan_id}/reject", json={"note": "not now"}, headers=admin
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert "not now" in rejected.json()["text"]
    assert written(platform, "a.txt") is None
    stored = (await client.get(f"/api/v1/plans/{plan_id}", headers=admin)).json()
    assert stored["status"] == "rejected"
    assert (await client.post(f"/api/v1/plans/{plan_id}/approve", headers=admin)).status_code == 409


async def test_a_skipped_step_does_not_run(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "a"), write("b.txt", "b")), {"text": "Wrote b [2]."})
    plan_id = (await chat_plan(client, admin))["id"]
    skipped = await client.post(f"/api/v1/plans/{plan_id}/steps/1/skip", headers=admin)
    assert skipped.status_code == 200, skipped.text
    assert [s["status"] for s in skipped.json()["steps"]] == ["skipped", "pending"]

    answer = done(await stream(client, f"/api/v1/plans/{plan_id}/approve", headers=admin))
    assert answer["status"] == "completed"
    assert (written(platform, "a.txt"), written(platform, "b.txt")) == (None, "b")
    again = await client.post(f"/api/v1/plans/{plan_id}/steps/2/skip", headers=admin)
    assert again.status_code == 409


@pytest.mark.parametrize("position", [0, 3])
async def test_skipping_a_step_the_plan_does_not_have_is_not_found(
    client: httpx.AsyncClient, script: Script, admin: dict[str, str], position: int
) -> None:
    script(plan(write("a.txt", "a"), write("b.txt", "b")))
    plan_id = (await chat_plan(client, admin))["id"]
    response = await client.post(f"/api/v1/plans/{plan_id}/steps/{position}/skip", headers=admin)
    assert response.status_code == 404
    assert "has no step" in response.json()["error"]["message"]


async def test_a_step_that_asks_for_feedback_pauses_the_plan_until_feedback_comes(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan({**CLOCK, "needs_feedback": True}, write("a.txt", "hi")), {"text": "Done [1][2]."})
    plan_id = (await chat_plan(client, admin))["id"]

    paused = done(await stream(client, f"/api/v1/plans/{plan_id}/approve", headers=admin))
    assert paused["status"] == "awaiting_feedback"
    (stored,) = paused["plans"]
    assert (stored["status"], stored["waiting_for"], stored["feedback_step"]) == (
        "paused",
        "feedback",
        1,
    )
    assert [s["status"] for s in stored["steps"]] == ["succeeded", "approved"]
    assert written(platform, "a.txt") is None
    early = await client.post(f"/api/v1/plans/{plan_id}/approve", headers=admin)
    assert early.status_code == 409 and "waits for feedback" in early.json()["error"]["message"]

    events = await stream(
        client,
        f"/api/v1/plans/{plan_id}/feedback",
        json_body={"note": "looks right", "proceed": True},
        headers=admin,
    )
    assert kinds(events) == ["plan", "step_started", "step_finished", "text", "done"]
    assert done(events)["status"] == "completed"
    assert written(platform, "a.txt") == "hi"
    decisions = (await client.get(f"/api/v1/plans/{plan_id}", headers=admin)).json()["decisions"]
    assert [(d["decision"], d["step_position"], d["note"]) for d in decisions] == [
        ("approve_all", None, None),
        ("feedback", 1, "looks right"),
    ]


async def test_feedback_that_says_stop_ends_the_plan(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan({**CLOCK, "needs_feedback": True}, write("a.txt", "hi")), {"text": "Stopped."})
    plan_id = (await chat_plan(client, admin))["id"]
    await stream(client, f"/api/v1/plans/{plan_id}/approve", headers=admin)
    events = await stream(
        client,
        f"/api/v1/plans/{plan_id}/feedback",
        json_body={"note": "wrong time zone", "proceed": False},
        headers=admin,
    )
    assert done(events)["status"] == "stopped"
    assert written(platform, "a.txt") is None


async def test_feedback_on_a_plan_that_does_not_wait_for_it_is_a_conflict(
    client: httpx.AsyncClient, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")))
    plan_id = (await chat_plan(client, admin))["id"]
    response = await client.post(
        f"/api/v1/plans/{plan_id}/feedback", json={"proceed": True}, headers=admin
    )
    assert response.status_code == 409


async def test_another_users_plans_and_conversations_are_not_found(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")))
    proposed = await chat_plan(client, admin)
    vic = await asyncio.to_thread(bearer, platform, "vic")
    plan_url = f"/api/v1/plans/{proposed['id']}"
    for method, url in (
        ("GET", plan_url),
        ("POST", f"{plan_url}/approve"),
        ("POST", f"{plan_url}/reject"),
        ("POST", f"{plan_url}/steps/1/skip"),
    ):
        response = await client.request(method, url, headers=vic)
        assert response.status_code == 404, (method, url, response.text)
    hijack = {"message": "hi", "conversation_id": proposed["conversation_id"]}
    response = await client.post("/api/v1/chat", json=hijack, headers=vic)
    assert response.status_code == 404
    assert written(platform, "a.txt") is None


async def test_a_conversation_carries_on_with_its_history(
    client: httpx.AsyncClient, script: Script, admin: dict[str, str]
) -> None:
    script({"text": "First."}, {"text": "Second."})
    first = done(await stream(client, "/api/v1/chat", json_body={"message": "a"}, headers=admin))
    body = {"message": "b", "conversation_id": first["conversation_id"]}
    second = done(await stream(client, "/api/v1/chat", json_body=body, headers=admin))
    assert second["conversation_id"] == first["conversation_id"]
    assert second["text"] == "Second."


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "hi", "conversation_id": "../x"}, "conversation_id"),
        ({"message": "hi", "unknown": 1}, "unknown"),
        ({"message": 5}, "message"),
    ],
)
async def test_a_malformed_chat_request_is_refused_before_the_model(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any], path: str
) -> None:
    response = await client.post("/api/v1/chat", json=body, headers=admin)
    assert response.status_code == 400
    assert (response.json()["error"]["status"], response.json()["error"]["path"]) == (
        "invalid",
        path,
    )


async def test_a_decision_made_in_another_process_carries_the_plan_on(
    tmp_path: Path, platform: Platform, scripts: Path, script: Script, admin: dict[str, str]
) -> None:
    """Nothing is kept in memory: a second app over the same store approves the plan."""
    script(plan(write("a.txt", "hi")))
    first = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=first, base_url="http://one") as one:
        plan_id = (await chat_plan(one, admin))["id"]

    script({"text": "Wrote it [1]."})  # the other process's model, from the start
    other = Platform(settings(tmp_path / "home", scripts))
    second = httpx.ASGITransport(app=create_app(other))
    async with httpx.AsyncClient(transport=second, base_url="http://two") as two:
        events = await stream(two, f"/api/v1/plans/{plan_id}/approve", headers=admin)
    other.close()
    platform.close()
    assert done(events)["status"] == "completed"
    assert written(platform, "a.txt") == "hi"


async def test_without_a_model_chat_says_how_to_configure_one(
    tmp_path: Path, scripts: Path
) -> None:
    platform = Platform(settings(tmp_path / "home", scripts, model=None))
    await asyncio.to_thread(set_up, platform)
    headers = await asyncio.to_thread(bearer, platform, "admin")
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/v1/chat", json={"message": "hi"}, headers=headers)
    platform.close()
    assert response.status_code == 503
    assert response.json()["error"] == {
        "status": "unavailable",
        "message": f"Chat is not available: {NO_MODEL_MESSAGE}",
        "path": None,
    }


async def test_two_approvals_of_one_plan_at_once_run_it_once(
    client: httpx.AsyncClient, platform: Platform, script: Script, admin: dict[str, str]
) -> None:
    script(plan(write("a.txt", "hi")), {"text": "Done."}, {"text": "Done."})
    plan_id = (await chat_plan(client, admin))["id"]
    url = f"/api/v1/plans/{plan_id}/approve"

    async def approve() -> str:
        async with client.stream("POST", url, headers=admin) as response:
            if response.status_code == 409:
                return "refused"
            events = [event async for event in read_events(response)]
            return "ran" if events[-1].kind == "done" else events[-1].data["error"]["status"]

    outcomes = await asyncio.gather(approve(), approve())
    assert sorted(outcomes) in (["conflict", "ran"], ["ran", "refused"])
    audit = [r for r in platform.registry.audit_log.recent(20) if r.operation == "write_file"]
    assert [r.status for r in audit] == ["ok"]
