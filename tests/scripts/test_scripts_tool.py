"""Scripts on the ``code`` tool: versions, runs with the owner's permissions, the run ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts_support import code, platform_over, result_of
from sqlalchemy import select

from masterai.security import UserDirectory
from masterai.store import Database
from masterai.store.models.events import Event
from masterai.store.models.scripts import ScriptRun

HELLO = 'import json\np = json.load(open("params.json"))\nprint("hi", p["who"])\n'
SCHEMA = {
    "type": "object",
    "properties": {"who": {"type": "string"}},
    "required": ["who"],
    "additionalProperties": False,
}


async def test_a_run_records_who_version_params_output_and_emits_script_succeeded(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform,
            "alice",
            "create_script",
            name="hello",
            language="python",
            code=HELLO,
            parameters=SCHEMA,
            company_id="acme",
        )
        run = result_of(
            await code(platform, "admin", "run_script", script="hello", params={"who": "bob"})
        )

    assert (run["status"], run["exit_code"], run["stdout"]) == ("succeeded", 0, "hi bob\n")
    assert (run["requested_by"], run["trigger"], run["version"]) == ("admin", "manual", 1)
    assert run["params"] == {"who": "bob"} and len(run["attempts"]) == 1
    with database.session() as session:
        event = session.scalars(select(Event).where(Event.type == "script.succeeded")).one()
    assert event.company_id == "acme" and event.data["run_id"] == run["id"]


async def test_params_outside_the_schema_are_refused_and_nothing_is_recorded(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform,
            "alice",
            "create_script",
            name="hello",
            language="python",
            code=HELLO,
            parameters=SCHEMA,
        )
        result = await code(platform, "alice", "run_script", script="hello", params={"who": 3})

    assert result.status == "invalid" and "params.who" in (result.error or "")
    with database.session() as session:
        assert session.scalars(select(ScriptRun)).all() == []


async def test_update_makes_a_new_version_and_an_old_one_still_runs(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(platform, "alice", "create_script", name="v", language="python", code="print(1)")
        updated = result_of(
            await code(platform, "alice", "update_script", script="v", code="print(2)")
        )
        old = result_of(await code(platform, "alice", "run_script", script="v", version=1))
        new = result_of(await code(platform, "alice", "run_script", script="v"))
        shown = result_of(await code(platform, "alice", "get_script", script="v"))

    assert updated["version"] == 2 and [v["version"] for v in shown["versions"]] == [1, 2]
    assert (old["stdout"], old["version"]) == ("1\n", 1)
    assert (new["stdout"], new["version"]) == ("2\n", 2)


async def test_a_failing_program_is_a_failed_run_with_script_failed(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform,
            "alice",
            "create_script",
            name="boom",
            language="python",
            code="import sys\nprint('x', file=sys.stderr)\nsys.exit(3)",
        )
        run = result_of(await code(platform, "alice", "run_script", script="boom"))

    assert (run["status"], run["exit_code"], run["stderr"]) == ("failed", 3, "x\n")
    with database.session() as session:
        event = session.scalars(select(Event).where(Event.type == "script.failed")).one()
    assert event.data["exit_code"] == 3 and event.actor == "alice"


async def test_a_run_uses_the_owners_permissions_as_they_are_at_run_time(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform, "alice", "create_script", name="mine", language="python", code="print(1)"
        )
        UserDirectory(database).set_grant("alice", "code_execution.enabled", False)
        run = result_of(await code(platform, "admin", "run_script", script="mine"))

    assert run["status"] == "failed"
    assert "code execution is not enabled for 'alice'" in run["error"]


async def test_output_files_are_saved_as_artifacts_in_the_company_workspace(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform,
            "alice",
            "create_script",
            name="art",
            language="python",
            code="open('out.txt', 'w').write('data')",
            company_id="acme",
        )
        run = result_of(await code(platform, "alice", "run_script", script="art"))
        root = platform.settings.workspace

    path = f"companies/acme/scripts/art/runs/{run['id']}/out.txt"
    assert run["artifacts"] == [path] and (root / path).read_text() == "data"


async def test_scripts_of_a_company_are_hidden_from_users_who_cannot_read_it(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        for company in ("acme", "globex"):
            await code(
                platform,
                "admin",
                "create_script",
                name=company,
                language="python",
                code="print(1)",
                company_id=company,
            )
        seen = result_of(await code(platform, "alice", "list_scripts"))
        hidden = await code(platform, "alice", "run_script", script="globex")
        refused = await code(
            platform,
            "alice",
            "create_script",
            name="x",
            language="python",
            code="1",
            company_id="globex",
        )

    assert [s["name"] for s in seen] == ["acme"]
    assert hidden.status == "not_found" and "does not exist" in (hidden.error or "")
    assert refused.status == "denied"


async def test_a_disabled_script_does_not_run(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform, "alice", "create_script", name="off", language="python", code="print(1)"
        )
        await code(platform, "alice", "disable_script", script="off")
        result = await code(platform, "alice", "run_script", script="off")

    assert result.status == "failed" and "disabled" in (result.error or "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("schedule", "61 * * * *", "invalid cron expression '61 * * * *'"),
        ("timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("name", "../x", "invalid script name '../x'"),
    ],
)
async def test_bad_script_input_gets_one_clear_error_and_saves_nothing(
    database: Database, tmp_path: Path, field: str, value: str, message: str
) -> None:
    args = {
        "name": "ok",
        "language": "python",
        "code": "print(1)",
        "schedule": "0 2 * * *",
        field: value,
    }
    with platform_over(database, tmp_path) as platform:
        result = await code(platform, "alice", "create_script", **args)
        listed = result_of(await code(platform, "alice", "list_scripts"))

    assert result.status == "invalid" and message in (result.error or "")
    assert listed == []


async def test_cancelling_a_running_script_kills_it(database: Database, tmp_path: Path) -> None:
    import asyncio

    with platform_over(database, tmp_path) as platform:
        await code(
            platform,
            "alice",
            "create_script",
            name="slow",
            language="python",
            code="import time\nprint('start', flush=True)\ntime.sleep(60)",
            timeout=20,
        )
        task = asyncio.create_task(code(platform, "alice", "run_script", script="slow"))
        async with asyncio.timeout(30):
            while not (runs := result_of(await code(platform, "alice", "list_runs"))):
                await asyncio.sleep(0.05)
        await code(platform, "alice", "cancel_run", run_id=runs[0]["id"])
        async with asyncio.timeout(30):
            run = result_of(await task)

    assert run["status"] == "cancelled" and run["error"] == "cancelled while running"


async def test_tool_scripts_call_the_registry_as_the_owner_and_are_audited(
    database: Database, tmp_path: Path
) -> None:
    from masterai.audit import AuditLog

    calls = [{"tool": "clock", "args": {"operation": "get_time"}}]
    with platform_over(database, tmp_path) as platform:
        await code(platform, "alice", "create_script", name="t", calls=calls)
        run = result_of(await code(platform, "admin", "run_script", script="t"))

    records = [r for r in AuditLog(database).search(limit=100) if r.tool == "clock"]
    assert run["status"] == "succeeded"
    assert [(r.user_name, r.client_address) for r in records] == [
        ("alice", f"script:t#{run['id']}")
    ]


async def test_a_run_may_import_only_the_owners_allowed_packages(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        UserDirectory(database).set_grant("alice", "code_execution.allowed_packages", ["numpy"])
        await code(
            platform,
            "alice",
            "create_script",
            name="pd",
            language="python",
            code="import pandas\nprint('imported')",
        )
        run = result_of(await code(platform, "admin", "run_script", script="pd"))

    assert run["status"] == "failed" and "'pandas' is not allowed" in (run["stderr"] or "")
