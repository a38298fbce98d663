"""Seed 000's use case 3 end to end: a nightly test suite with an alert on failure.

Test cases are generated for a demo company, a script that runs them is scheduled for
``0 2 * * *`` in Europe/Paris, a controllable clock is moved across 02:00, the in-process
worker runs it as its owner, and the failure webhooks reach a receiver on loopback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from scripts_support import code, platform_over, result_of
from support import http_receiver

from masterai.events import EVENT_HEADER, Dispatcher
from masterai.jobs import InProcessQueue, ManualClock, RunExecutor, Scheduler
from masterai.registry import ExecutionContext, approve_all
from masterai.security import load_principal
from masterai.services.configs import ConfigurationService
from masterai.services.demo import seed_demo
from masterai.services.scripts import ScriptService
from masterai.settings import JobsSettings
from masterai.store import Database
from masterai.store.models.scripts import ScriptRun, ScriptSchedule

COMPANY = "acme-retail"
FALLBACK = "I'm sorry, I don't have information about that. Could you rephrase?"


async def test_a_nightly_suite_runs_at_two_in_paris_and_its_failure_is_delivered(
    database: Database, tmp_path: Path
) -> None:
    scripted = tmp_path / "models"
    scripted.mkdir()
    # The configuration under test answers everything with the fallback that failed before.
    (scripted / "nightly.json").write_text(json.dumps([{"text": FALLBACK}] * 100))
    clock = ManualClock(datetime.fromisoformat("2027-01-10T01:30:00+01:00"))
    with (
        platform_over(database, tmp_path, scripted_dir=scripted) as platform,
        http_receiver() as hook,
    ):
        seed_demo(database, companies=1, conversations=80, days=14, end_date=None)
        ConfigurationService(database).update_configuration(
            COMPANY, {"provider": "scripted", "model": "nightly.json"}, author="setup"
        )
        suite = result_of(await code(platform, "admin", "generate_test_cases", company_id=COMPANY))
        admin = ExecutionContext(principal=load_principal(database, "admin"), approver=approve_all)
        subscribed = await platform.call(
            "integration",
            {"operation": "setup_webhook", "url": hook.url, "event": "*", "company_id": COMPANY},
            admin,
        )
        assert subscribed.ok, subscribed.error
        nightly = [
            {"tool": "code", "args": {"operation": "run_integration_tests", "company_id": COMPANY}}
        ]
        result_of(
            await code(
                platform,
                "admin",
                "create_script",
                name="nightly-ai-tests",
                calls=nightly,
                schedule="0 2 * * *",
                timezone="Europe/Paris",
                company_id=COMPANY,
            )
        )
        with database.session() as session:
            session.execute(sa.update(ScriptSchedule).values(checked_until=clock()))

        queue = InProcessQueue(
            RunExecutor(database, platform.call, ScriptService(database)), workers=1
        )
        scheduler = Scheduler(database, queue, JobsSettings(), holder="test", clock=clock)
        before = await scheduler.run_pass()
        clock.advance(timedelta(minutes=31))  # 02:01 Paris
        after = await scheduler.run_pass()
        stop = asyncio.Event()
        serving = asyncio.create_task(queue.run(stop))
        async with asyncio.timeout(60):
            await queue.join()
        stop.set()
        await serving
        settings = platform.settings
        await Dispatcher(database, settings.integrations, settings.egress).dispatch_once()

    assert len(suite["test_cases"]) > 1
    assert before.queued == [] and len(after.queued) == 1
    with database.session() as session:
        run = session.get(ScriptRun, after.queued[0])
        assert run is not None
        assert run.scheduled_for == datetime(2027, 1, 10, 1, 0, tzinfo=UTC)
        assert (run.trigger, run.status, run.requested_by) == ("schedule", "failed", "admin")
        assert "failed cases" in (run.error or "")
    delivered = {r.headers[EVENT_HEADER]: r.json() for r in hook.requests}
    assert {"test.failed", "script.failed"} <= set(delivered)
    assert delivered["script.failed"]["data"]["run_id"] == after.queued[0]
