"""A real ``masterai serve`` with two workers: decisions made in a later request, any worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sse import done, kinds, stream

from serve_support import MASTERAI, free_port, wait_until_up

PLAN = {
    "name": "propose_plan",
    "arguments": {
        "summary": "write a note",
        "steps": [
            {
                "tool": "filesystem",
                "operation": "write_file",
                "arguments": {"path": "shared/note.txt", "content": "hi"},
                "purpose": "save",
            }
        ],
    },
}
# Each worker plays the script from its start: this step plans when asked to plan and
# answers "Done." when asked to sum up, whichever worker takes which request.
STEP = {"text": "Done.", "tool_calls": [PLAN]}


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [MASTERAI, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """``masterai serve --workers 2`` with a scripted model; base URL, auth header, home."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "script.json").write_text(json.dumps([STEP, STEP]))
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MASTERAI_")},
        "MASTERAI_HOME": str(home),
        "MASTERAI_LLM__SCRIPTED_DIR": str(scripts),
        "MASTERAI_LLM__MODEL": "scripted:script.json",
    }
    token = json.loads(cli(env, "init", "--json"))["token"]
    cli(env, "company", "add", "acme", "--name", "Acme")
    prompt = {"operation": "update_prompt", "company_id": "acme", "prompt": "Hello."}
    cli(env, "tool", "run", "configuration", "--args", json.dumps(prompt), "--yes")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [MASTERAI, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, log)
        yield base, {"authorization": f"Bearer {token}"}, home
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()


async def test_a_plan_proposed_in_one_request_is_approved_and_run_in_another(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, auth, home = server
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        chat = await stream(client, "/api/v1/chat", json_body={"message": "note"}, headers=auth)
        assert kinds(chat) == ["text", "plan", "done"]
        assert done(chat)["status"] == "awaiting_approval"
        plan_id = done(chat)["plans"][0]["id"]
        assert not (home / "workspace" / "shared" / "note.txt").exists()

        approved = await stream(client, f"/api/v1/plans/{plan_id}/approve", headers=auth)
        assert kinds(approved) == ["plan", "step_started", "step_finished", "text", "done"]
        assert done(approved)["status"] == "completed"
        again = await client.post(f"/api/v1/plans/{plan_id}/approve", headers=auth)
        assert again.status_code == 409
    assert (home / "workspace" / "shared" / "note.txt").read_text() == "hi"


async def test_a_pending_configuration_change_is_applied_once_after_approval(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, auth, _ = server
    change = {"operation": "update_prompt", "company_id": "acme", "prompt": "Be brief."}
    show = {"operation": "get_configuration", "company_id": "acme"}

    async def prompt(client: httpx.AsyncClient) -> Any:
        answer = await client.post("/api/v1/tools/configuration", json=show, headers=auth)
        return answer.json()["data"]["result"]["system_prompt"]

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        pending = await client.post("/api/v1/tools/configuration", json=change, headers=auth)
        assert pending.status_code == 202, pending.text
        approval_id = pending.json()["approval"]["id"]
        assert await prompt(client) == "Hello."
        url = f"/api/v1/approvals/{approval_id}"
        decided = await client.post(url, json={"approve": True}, headers=auth)
        assert decided.status_code == 200, decided.text
        assert (await client.post(url, json={"approve": True}, headers=auth)).status_code == 409
        assert await prompt(client) == "Be brief."
