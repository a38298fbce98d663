"""The scheduler: due schedule ticks become run records, then jobs.

One scheduler at a time holds the lease (a row of ``scheduler_leases`` with an expiry) and
does the work; the others stand by and take over when the lease runs out. Even without the
lease no tick could run twice: a tick's run is recorded under the UNIQUE key
``(schedule_id, scheduled_for)`` before it is enqueued, and only the scheduler whose insert
succeeded enqueues it.

Per schedule, each pass looks at the ticks between ``checked_until`` and now:

- a tick at most ``misfire_grace`` late runs;
- older ones (the scheduler was down) follow ``catchup``: ``none`` skips them, ``latest`` runs
  only the newest due tick, ``all`` runs them all, the newest ``max_catchup``;
- ``concurrency`` decides when an earlier run is still active: ``allow`` runs anyway,
  ``forbid`` records the tick as skipped, ``replace`` cancels the active runs first.

Each pass also takes back runs whose worker stopped beating (``stale_after``): they are
queued again (the run record shows the lost attempt) until ``max_attempts``. And it enqueues
again runs that have waited ``stale_after`` in ``queued``: their job may have gone with a
restarted Redis. A job still waiting is not added twice (jobs are keyed by run and attempt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from masterai.jobs.clock import Clock, system_clock
from masterai.jobs.queue import JobQueue
from masterai.services.scripts import CatchUp, Concurrency, ScriptService, due_ticks
from masterai.settings import JobsSettings
from masterai.store import Database
from masterai.store.models.scripts import SchedulerLease, Script, ScriptRun, ScriptSchedule

log = logging.getLogger(__name__)
LEASE = "scheduler"
REQUEUE_MAX = 500
"""Long-waiting queued runs enqueued again per pass (the oldest first)."""


@dataclass(kw_only=True)
class PassReport:
    """What one scheduler pass did."""

    leader: bool = False
    queued: list[int] = field(default_factory=list)
    """Run ids recorded and enqueued."""
    skipped: list[int] = field(default_factory=list)
    """Run ids recorded as skipped (concurrency ``forbid``)."""
    missed: int = 0
    """Ticks dropped by the catch-up policy."""
    retried: list[int] = field(default_factory=list)
    """Runs of dead workers queued again."""
    requeued: list[int] = field(default_factory=list)
    """Runs that waited ``stale_after`` in ``queued``, enqueued again."""
    jobs: list[tuple[int, int]] = field(default_factory=list, repr=False)
    """(run id, attempts recorded) of every job this pass enqueues."""


def choose_ticks(
    due: Sequence[datetime],
    now: datetime,
    *,
    catchup: CatchUp,
    max_catchup: int,
    grace: timedelta,
) -> list[datetime]:
    """The ticks among ``due`` (oldest first) that run now, by the catch-up policy."""
    if not due:
        return []
    if catchup is CatchUp.LATEST:
        return [due[-1]]
    if catchup is CatchUp.ALL:
        return list(due[-max_catchup:])
    return [t for t in due if now - t <= grace]


class Scheduler:
    """Turns due ticks into runs and hands them to a queue.

    Args:
        database: the platform database (schedules, runs, the lease).
        queue: where runs go.
        settings: the ``jobs`` settings.
        holder: this scheduler's name in the lease.
        clock: the current time (a :class:`~masterai.jobs.clock.ManualClock` in tests).
    """

    def __init__(
        self,
        database: Database,
        queue: JobQueue,
        settings: JobsSettings,
        *,
        holder: str,
        clock: Clock = system_clock,
    ) -> None:
        self._database = database
        self._queue = queue
        self._settings = settings
        self.holder = holder
        self._clock = clock
        self.scripts = ScriptService(database, clock=clock)

    def acquire_lease(self) -> bool:
        """Take or renew the lease; whether this scheduler is the leader now."""
        now = self._clock()
        expires = now + timedelta(seconds=self._settings.lease_seconds)
        with self._database.session(immediate=True) as session:
            taken = session.execute(
                sa.update(SchedulerLease)
                .where(
                    SchedulerLease.name == LEASE,
                    sa.or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=expires)
            )
            if taken.rowcount:  # type: ignore[attr-defined]
                return True
        try:
            with self._database.session(immediate=True) as session:
                if session.get(SchedulerLease, LEASE) is not None:
                    return False
                session.add(SchedulerLease(name=LEASE, holder=self.holder, expires_at=expires))
        except IntegrityError:
            return False  # another scheduler created it first
        return True

    def release_lease(self) -> None:
        """Give the lease up (at shutdown), so a standby takes over at once."""
        with self._database.session(immediate=True) as session:
            session.execute(
                sa.delete(SchedulerLease).where(
                    SchedulerLease.name == LEASE, SchedulerLease.holder == self.holder
                )
            )

    async def run_pass(self, *, lease: bool = True) -> PassReport:
        """One pass: lease, due ticks, stale runs. ``lease=False`` skips the lease (tests)."""
        report = PassReport()
        if lease and not await asyncio.to_thread(self.acquire_lease):
            return report
        report.leader = True
        await asyncio.to_thread(self._dispatch_due, report)
        await asyncio.to_thread(self._retry_stale, report)
        await asyncio.to_thread(self._requeue_waiting, report)
        for run_id, attempt in report.jobs:
            await self._queue.enqueue(run_id, attempt=attempt)
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Pass every ``tick`` seconds until ``stop`` is set; queued runs are re-enqueued first.

        A pass that fails (the database or Redis away for a moment) is logged and the next
        one re-enqueues every queued run: a run recorded while its job could not be queued,
        or whose job went with Redis, is not left waiting. A job delivered twice runs once.
        """
        requeue = True
        try:
            while not stop.is_set():
                try:
                    if requeue:
                        for run_id, attempt in await asyncio.to_thread(self.scripts.queued_runs):
                            await self._queue.enqueue(run_id, attempt=attempt)
                        requeue = False
                    await self.run_pass()
                except Exception as e:
                    log.warning("scheduler pass failed, trying again: %s: %s", type(e).__name__, e)
                    requeue = True
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._settings.tick)
        finally:
            try:
                await asyncio.to_thread(self.release_lease)
            except Exception as e:  # the lease then expires by itself
                log.warning("could not release the scheduler lease: %s", e)

    def _schedules(self) -> list[ScriptSchedule]:
        with self._database.session() as session:
            return list(
                session.scalars(
                    sa.select(ScriptSchedule)
                    .join(Script, Script.id == ScriptSchedule.script_id)
                    .where(ScriptSchedule.enabled, Script.enabled)
                    .order_by(ScriptSchedule.id)
                ).all()
            )

    def _dispatch_due(self, report: PassReport) -> None:
        now = self._clock()
        for schedule in self._schedules():
            due = due_ticks(schedule.cron, schedule.timezone, schedule.checked_until, now)
            if not due:
                continue
            chosen = choose_ticks(
                due,
                now,
                catchup=CatchUp(schedule.catchup),
                max_catchup=schedule.max_catchup,
                grace=timedelta(seconds=schedule.misfire_grace_s),
            )
            report.missed += len(due) - len(chosen)
            for tick in chosen:
                self._dispatch_tick(schedule, tick, report)
            self._advance(schedule.id, due[-1])

    def _dispatch_tick(self, schedule: ScriptSchedule, tick: datetime, report: PassReport) -> None:
        policy = Concurrency(schedule.concurrency)
        active = self.scripts.active_runs(schedule.script_id)
        skipped = None
        if active and policy is Concurrency.FORBID:
            skipped = f"skipped: run {active[0]} was still active (concurrency forbid)"
        elif active and policy is Concurrency.REPLACE:
            self.scripts.cancel_active(schedule.script_id)
        run_id = self.scripts.record_tick(schedule.id, tick, skipped=skipped)
        if run_id is None:
            return  # another scheduler recorded this tick
        (report.skipped if skipped else report.queued).append(run_id)
        if not skipped:
            report.jobs.append((run_id, 0))

    def _advance(self, schedule_id: int, until: datetime) -> None:
        with self._database.session(immediate=True) as session:
            session.execute(
                sa.update(ScriptSchedule)
                .where(ScriptSchedule.id == schedule_id, ScriptSchedule.checked_until < until)
                .values(checked_until=until)
            )

    def _retry_stale(self, report: PassReport) -> None:
        for run_id in self.scripts.stale_runs(stale_after=self._settings.stale_after):
            with self._database.session(immediate=True) as session:
                run = session.get(ScriptRun, run_id)
                attempts = len(run.attempts) if run is not None else 0
            if attempts >= self._settings.max_attempts:
                self.scripts.give_up(
                    run_id, f"its worker stopped {attempts} times; out of attempts"
                )
            else:
                report.retried.append(run_id)
                report.jobs.append((run_id, attempts))

    def _requeue_waiting(self, report: PassReport) -> None:
        cutoff = self._clock() - timedelta(seconds=self._settings.stale_after)
        fresh = {run_id for run_id, _ in report.jobs}
        for run_id, attempts in self.scripts.queued_runs(queued_before=cutoff, limit=REQUEUE_MAX):
            if run_id not in fresh:
                report.requeued.append(run_id)
                report.jobs.append((run_id, attempts))
