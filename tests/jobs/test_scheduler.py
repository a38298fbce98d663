"""The scheduler: cron in a time zone across DST, catch-up, concurrency, the lease, races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scripts_support import code, platform_over, result_of

from masterai.jobs import ManualClock, Scheduler
from masterai.jobs.scheduler import choose_ticks
from masterai.services.scripts import CatchUp, ScriptService, due_ticks
from masterai.settings import JobsSettings
from masterai.store import Database
from masterai.store.models.scripts import ScriptRun, ScriptSchedule

PARIS = "Europe/Paris"


class Collect:
    """A queue that only remembers what was enqueued."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.jobs: list[tuple[int, int]] = []

    async def enqueue(self, run_id: int, *, attempt: int = 0) -> None:
        self.ids.append(run_id)
        self.jobs.append((run_id, attempt))


def local(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM+HH:MM'."""
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_repeated_local_time_fires_once_on_the_night_clocks_go_back() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    ticks = due_ticks(
        "30 2 * * *", PARIS, local("2026-10-24 12:00+02:00"), local("2026-10-26 12:00+01:00")
    )

    assert ticks == [local("2026-10-25 02:30+02:00"), local("2026-10-26 02:30+01:00")]


def test_a_skipped_local_time_fires_at_the_next_valid_minute_when_clocks_go_forward() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 never happens.
    ticks = due_ticks(
        "30 2 * * *", PARIS, local("2026-03-28 12:00+01:00"), local("2026-03-30 12:00+02:00")
    )

    assert ticks == [local("2026-03-29 03:00+02:00"), local("2026-03-30 02:30+02:00")]


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [(CatchUp.NONE, [3]), (CatchUp.LATEST, [3]), (CatchUp.ALL, [1, 2, 3])],
)
def test_catch_up_policies_choose_the_missed_ticks(catchup: CatchUp, expected: list[int]) -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    due = [start + timedelta(hours=h) for h in (0, 1, 2, 3)]
    now = due[-1] + timedelta(seconds=10)

    chosen = choose_ticks(due, now, catchup=catchup, max_catchup=3, grace=timedelta(minutes=5))

    assert chosen == [start + timedelta(hours=h) for h in expected]


def test_catch_up_none_runs_nothing_when_every_tick_is_past_the_grace() -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    due = [start, start + timedelta(hours=1)]

    chosen = choose_ticks(
        due,
        start + timedelta(hours=5),
        catchup=CatchUp.NONE,
        max_catchup=3,
        grace=timedelta(minutes=5),
    )

    assert chosen == []


async def nightly(platform: Any, database: Database, start: datetime, **options: Any) -> int:
    """A nightly script (02:00 Paris) whose schedule has dispatched everything before ``start``."""
    script = result_of(
        await code(
            platform,
            "alice",
            "create_script",
            name="nightly",
            language="python",
            code="print('night')",
            schedule="0 2 * * *",
            timezone=PARIS,
            **options,
        )
    )
    with database.session() as session:
        session.execute(sa.update(ScriptSchedule).values(checked_until=start))
    return int(script["schedule"]["id"])


def scheduler(
    database: Database, clock: ManualClock, queue: Collect, holder: str = "a"
) -> Scheduler:
    return Scheduler(database, queue, JobsSettings(lease_seconds=30), holder=holder, clock=clock)


async def test_advancing_the_clock_across_two_am_paris_queues_exactly_one_run(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-01-10 01:59+01:00"))
    queue = Collect()
    with platform_over(database, tmp_path) as platform:
        schedule_id = await nightly(platform, database, clock())
        first = await scheduler(database, clock, queue).run_pass()
        clock.advance(timedelta(minutes=2))
        second = await scheduler(database, clock, queue).run_pass()
        third = await scheduler(database, clock, queue).run_pass()

    assert (first.queued, third.queued) == ([], [])
    assert second.queued == queue.ids and len(queue.ids) == 1
    with database.session() as session:
        run = session.get(ScriptRun, queue.ids[0])
        assert run is not None
        assert (run.schedule_id, run.scheduled_for) == (
            schedule_id,
            local("2027-01-10 02:00+01:00"),
        )
        assert (run.trigger, run.status, run.requested_by) == ("schedule", "queued", "alice")


async def test_forbid_records_a_tick_as_skipped_while_a_run_is_active(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-01-10 01:59+01:00"))
    queue = Collect()
    with platform_over(database, tmp_path) as platform:
        await nightly(platform, database, clock(), concurrency="forbid")
        clock.advance(timedelta(minutes=2))
        await scheduler(database, clock, queue).run_pass()
        clock.advance(timedelta(days=1))
        report = await scheduler(database, clock, queue).run_pass()

    # The first run is still queued a day later (nothing ran it): enqueued again, not doubled.
    assert report.queued == [] and report.requeued == queue.ids[:1] == queue.ids[1:]
    assert len(report.skipped) == 1
    with database.session() as session:
        skipped = session.get(ScriptRun, report.skipped[0])
        assert skipped is not None and skipped.status == "skipped"


async def test_only_the_lease_holder_schedules_until_its_lease_expires(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-01-10 01:00+01:00"))
    first, second = (
        scheduler(database, clock, Collect(), "a"),
        scheduler(database, clock, Collect(), "b"),
    )
    with platform_over(database, tmp_path):
        leader = await first.run_pass()
        standby = await second.run_pass()
        clock.advance(timedelta(seconds=31))
        takeover = await second.run_pass()
        deposed = await first.run_pass()

    assert (leader.leader, standby.leader, takeover.leader, deposed.leader) == (
        True,
        False,
        True,
        False,
    )


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_two_schedulers_racing_on_postgres_record_one_run_per_tick(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-01-10 01:59+01:00"))
    with platform_over(database, tmp_path) as platform:
        await nightly(
            platform, database, clock(), catchup="all", max_catchup=20, concurrency="allow"
        )
        clock.advance(timedelta(days=7))  # seven ticks due at once
        queues = [Collect() for _ in range(4)]
        racers = [scheduler(database, clock, q, f"s{i}") for i, q in enumerate(queues)]
        # lease=False: every racer believes it leads; the UNIQUE tick key alone must hold.
        await asyncio.gather(
            *(asyncio.to_thread(asyncio.run, r.run_pass(lease=False)) for r in racers)
        )

    enqueued = [i for q in queues for i in q.ids]
    with database.session() as session:
        ticks = session.scalars(sa.select(ScriptRun.scheduled_for)).all()
    assert len(ticks) == 7 and len(set(ticks)) == 7
    assert sorted(enqueued) == sorted(set(enqueued)) and len(enqueued) == 7


async def test_replace_cancels_the_active_run_before_queueing_the_new_tick(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-01-10 01:59+01:00"))
    queue = Collect()
    with platform_over(database, tmp_path) as platform:
        await nightly(platform, database, clock(), concurrency="replace")
        clock.advance(timedelta(minutes=2))
        await scheduler(database, clock, queue).run_pass()
        clock.advance(timedelta(days=1))
        await scheduler(database, clock, queue).run_pass()

    with database.session() as session:
        statuses = [session.get(ScriptRun, i).status for i in queue.ids]  # type: ignore[union-attr]
    assert statuses == ["cancelled", "queued"]


async def test_a_scheduler_down_for_three_nights_runs_only_the_latest_tick_by_default(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(local("2027-01-10 01:59+01:00"))
    queue = Collect()
    with platform_over(database, tmp_path) as platform:
        await nightly(platform, database, clock())
        clock.advance(timedelta(days=3))
        report = await scheduler(database, clock, queue).run_pass()

    assert report.missed == 2 and len(queue.ids) == 1
    with database.session() as session:
        run = session.get(ScriptRun, queue.ids[0])
        assert run is not None and run.scheduled_for == local("2027-01-12 02:00+01:00")


async def test_a_run_left_queued_past_stale_after_is_enqueued_again_with_its_attempt(
    database: Database, tmp_path: Path
) -> None:
    """Its job may have gone with a restarted Redis; a run that just got queued is left alone."""
    clock = ManualClock(local("2027-01-10 01:59+01:00"))
    queue = Collect()
    with platform_over(database, tmp_path) as platform:
        schedule_id = await nightly(platform, database, clock())
        service = ScriptService(database, clock=clock)
        lost = service.record_tick(schedule_id, local("2027-01-09 02:00+01:00"))
        assert lost is not None
        with database.session() as session:  # a lost attempt is on record already
            session.execute(
                sa.update(ScriptRun).values(attempts=[{"attempt": 1, "outcome": "lost"}])
            )
        quiet = await scheduler(database, clock, queue).run_pass()
        clock.advance(timedelta(seconds=JobsSettings().stale_after + 1))
        fresh = service.record_tick(schedule_id, local("2027-01-08 02:00+01:00"))
        late = await scheduler(database, clock, queue).run_pass()

    assert quiet.requeued == [] and fresh is not None
    assert late.requeued == [lost]
    assert queue.jobs == [(lost, 1)]
