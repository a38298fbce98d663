"""``ScriptService``: scripts and their versions, schedules, and the run ledger.

Who may do what: a super admin everything; otherwise a script is seen by its owner and by
readers of its company, and changed or run by its owner and by writers of its company. Runs
always use the owner's permissions as they are when the run starts (the tool checks them).

The run ledger is the truth: a queue carries run ids, and a worker *claims* a run before it
runs it (:meth:`ScriptService.claim_run`), so a job delivered twice runs once while its first
worker is alive, and once more, as a second attempt, when that worker died.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterai.events import EventType, emit
from masterai.security import Principal
from masterai.services.errors import ConflictError, InvalidInputError, NotFoundError
from masterai.services.scripts.cron import check_cron, check_timezone, next_tick
from masterai.services.scripts.vocab import (
    ACTIVE,
    AccessDenied,
    CatchUp,
    Concurrency,
    RunStatus,
    Trigger,
)
from masterai.store import Database
from masterai.store.models import Company, utcnow
from masterai.store.models.scripts import Script, ScriptRun, ScriptSchedule, ScriptVersion

Clock = Callable[[], datetime]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """When a script runs by itself (validated by :meth:`ScheduleSpec.checked`)."""

    cron: str
    timezone: str = "UTC"
    catchup: CatchUp = CatchUp.LATEST
    max_catchup: int = 10
    misfire_grace_s: float = 300.0
    concurrency: Concurrency = Concurrency.FORBID

    def checked(self) -> ScheduleSpec:
        """This spec if every field is valid.

        Raises:
            InvalidInputError: naming the field and value.
        """
        check_cron(self.cron)
        check_timezone(self.timezone)
        if not 1 <= self.max_catchup <= 1000:
            raise InvalidInputError(f"max_catchup must be 1 to 1000, got {self.max_catchup!r}")
        if not 0 <= self.misfire_grace_s <= 86_400:
            raise InvalidInputError(
                f"misfire_grace must be 0 to 86400 seconds, got {self.misfire_grace_s!r}"
            )
        return self


@dataclass(frozen=True, kw_only=True)
class VersionSpec:
    """The code of a new version."""

    language: str
    code: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """JSON Schema of the run parameters (checked by the caller)."""
    limits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RunClaim:
    """A run a worker now owns: what to run, for whom."""

    run_id: int
    script_id: int
    script: str
    owner: str
    company_id: str | None
    version: int
    language: str
    code: str
    limits: dict[str, Any]
    params: dict[str, Any]
    trigger: str
    attempt: int


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.isdigit():
        raise InvalidInputError(
            f"invalid script name {name!r}: 1-128 letters, digits, '_', '.', '-', starting with "
            "a letter or digit, not only digits"
        )
    return name


def may_see(principal: Principal, script: Script) -> bool:
    """Whether ``principal`` may see ``script`` (and its runs)."""
    if principal.is_super_admin or script.owner == principal.name:
        return True
    company = script.company_id
    return company is not None and principal.permissions.data_access.can_read(company)


def may_change(principal: Principal, script: Script) -> bool:
    """Whether ``principal`` may change, run or delete ``script``."""
    if principal.is_super_admin or script.owner == principal.name:
        return True
    company = script.company_id
    return company is not None and principal.permissions.data_access.can_write(company)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def schedule_dict(schedule: ScriptSchedule | None, now: datetime) -> dict[str, Any] | None:
    """A schedule as shown to callers, with its next fire time."""
    if schedule is None:
        return None
    upcoming = next_tick(schedule.cron, schedule.timezone, max(now, schedule.checked_until))
    return {
        "id": schedule.id,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "catchup": schedule.catchup,
        "max_catchup": schedule.max_catchup,
        "misfire_grace": schedule.misfire_grace_s,
        "concurrency": schedule.concurrency,
        "next_run_at": _when(upcoming),
    }


def run_dict(run: ScriptRun, script_name: str, *, output: bool = True) -> dict[str, Any]:
    """A run record as shown to callers (output streams unless ``output`` is false)."""
    data: dict[str, Any] = {
        "id": run.id,
        "script": script_name,
        "script_id": run.script_id,
        "version": run.version,
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "status": run.status,
        "scheduled_for": _when(run.scheduled_for),
        "params": run.params,
        "queued_at": _when(run.queued_at),
        "started_at": _when(run.started_at),
        "finished_at": _when(run.finished_at),
        "exit_code": run.exit_code,
        "error": run.error,
        "artifacts": run.artifacts,
        "attempts": run.attempts,
        "cancel_requested": run.cancel_requested,
    }
    if output:
        data["stdout"] = run.stdout
        data["stderr"] = run.stderr
        data["result"] = run.result
    return data


class ScriptService:
    """Scripts, versions, schedules and runs in one database.

    Args:
        database: the platform database.
        clock: the current time (a test clock makes schedules deterministic).
    """

    def __init__(self, database: Database, *, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    # --- scripts -----------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        *,
        name: str,
        version: VersionSpec,
        description: str | None = None,
        company_id: str | None = None,
        schedule: ScheduleSpec | None = None,
    ) -> dict[str, Any]:
        """Save a new script (version 1), with its schedule if any.

        Raises:
            InvalidInputError: a bad name, cron expression or time zone.
            NotFoundError: ``company_id`` does not exist.
            ConflictError: a script of that name exists.
        """
        _check_name(name)
        if schedule is not None:
            schedule.checked()
        now = self.clock()
        with self.database.session(immediate=True) as session:
            if company_id is not None and session.get(Company, company_id) is None:
                raise NotFoundError(f"company {company_id!r} does not exist")
            if session.scalar(sa.select(Script.id).where(Script.name == name)) is not None:
                raise ConflictError(f"a script named {name!r} exists already: use update_script")
            script = Script(
                name=name,
                description=description,
                owner=principal.name,
                company_id=company_id,
                current_version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(script)
            session.flush()
            session.add(self._version_row(script.id, 1, version, principal.name, now))
            if schedule is not None:
                self._set_schedule(session, script, schedule, now)
            session.flush()
            return self._script_dict(session, script)

    def update(
        self,
        principal: Principal,
        ref: str,
        *,
        version: VersionSpec | None = None,
        description: str | None = None,
        schedule: ScheduleSpec | None = None,
        remove_schedule: bool = False,
    ) -> dict[str, Any]:
        """Change a script: new code makes a new version (earlier ones are kept).

        Raises:
            NotFoundError, AccessDenied, InvalidInputError.
        """
        if schedule is not None:
            schedule.checked()
        now = self.clock()
        with self.database.session(immediate=True) as session:
            script = self._script(session, principal, ref, change=True)
            if version is not None:
                script.current_version += 1
                session.add(
                    self._version_row(
                        script.id, script.current_version, version, principal.name, now
                    )
                )
            if description is not None:
                script.description = description
            if remove_schedule:
                session.execute(
                    sa.delete(ScriptSchedule).where(ScriptSchedule.script_id == script.id)
                )
            elif schedule is not None:
                self._set_schedule(session, script, schedule, now)
            script.updated_at = now
            session.flush()
            return self._script_dict(session, script)

    def get(self, principal: Principal, ref: str) -> dict[str, Any]:
        """A script with its schedule, current code and every version's summary.

        Raises:
            NotFoundError, AccessDenied.
        """
        with self.database.session() as session:
            script = self._script(session, principal, ref)
            data = self._script_dict(session, script)
            rows = session.scalars(
                sa.select(ScriptVersion)
                .where(ScriptVersion.script_id == script.id)
                .order_by(ScriptVersion.version)
            ).all()
            data["versions"] = [
                {
                    "version": v.version,
                    "language": v.language,
                    "author": v.author,
                    "created_at": _when(v.created_at),
                    "code_chars": len(v.code),
                }
                for v in rows
            ]
            return data

    def list_scripts(
        self, principal: Principal, *, company_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The scripts ``principal`` may see (of ``company_id`` only, if given)."""
        with self.database.session() as session:
            query = sa.select(Script).order_by(Script.name)
            if company_id is not None:
                query = query.where(Script.company_id == company_id)
            scripts = [s for s in session.scalars(query).all() if may_see(principal, s)]
            return [self._script_dict(session, s, code=False) for s in scripts]

    def set_enabled(self, principal: Principal, ref: str, enabled: bool) -> dict[str, Any]:
        """Enable or disable a script (a disabled one neither runs nor fires its schedule).

        Enabling it again does not run the ticks it missed while disabled.
        """
        now = self.clock()
        with self.database.session(immediate=True) as session:
            script = self._script(session, principal, ref, change=True)
            if enabled and not script.enabled:
                session.execute(
                    sa.update(ScriptSchedule)
                    .where(ScriptSchedule.script_id == script.id)
                    .values(checked_until=now)
                )
            script.enabled = enabled
            script.updated_at = now
            session.flush()
            return self._script_dict(session, script, code=False)

    def delete(self, principal: Principal, ref: str) -> dict[str, Any]:
        """Delete a script with its versions, schedule and runs."""
        with self.database.session(immediate=True) as session:
            script = self._script(session, principal, ref, change=True)
            data = {"id": script.id, "name": script.name}
            session.delete(script)
            return data

    def version_of(self, principal: Principal, ref: str, version: int | None) -> dict[str, Any]:
        """What a run of ``ref`` would run: the script and the version's code and schema.

        Raises:
            NotFoundError: no such script or version. AccessDenied: may not run it.
            ConflictError: the script is disabled.
        """
        with self.database.session(immediate=True) as session:
            script = self._script(session, principal, ref, change=True)
            if not script.enabled:
                raise ConflictError(f"script {script.name!r} is disabled: enable_script first")
            row = self._version(session, script, version)
            return {
                "script_id": script.id,
                "script": script.name,
                "owner": script.owner,
                "company_id": script.company_id,
                "version": row.version,
                "language": row.language,
                "code": row.code,
                "parameters": row.parameters,
                "limits": row.limits,
            }

    # --- the run ledger ----------------------------------------------------------------

    def start_run(
        self,
        requested_by: str,
        script_id: int,
        version: int,
        *,
        params: Mapping[str, Any],
        trigger: Trigger,
        worker: str,
    ) -> int:
        """Record a run started now (a manual or API run: no queue)."""
        now = self.clock()
        with self.database.session(immediate=True) as session:
            run = ScriptRun(
                script_id=script_id,
                version=version,
                trigger=trigger.value,
                requested_by=requested_by,
                params=dict(params),
                status=RunStatus.RUNNING.value,
                queued_at=now,
                started_at=now,
                heartbeat_at=now,
                worker=worker,
                attempts=[{"attempt": 1, "worker": worker, "started_at": now.isoformat()}],
            )
            session.add(run)
            session.flush()
            return run.id

    def record_tick(
        self, schedule_id: int, scheduled_for: datetime, *, skipped: str | None = None
    ) -> int | None:
        """Record the run of one schedule tick; ``None`` if that tick is recorded already.

        The UNIQUE (schedule_id, scheduled_for) key makes this the one place a tick is
        decided, whichever scheduler gets there first. ``skipped`` records the tick as
        skipped with that reason instead of queueing it.
        """
        now = self.clock()
        try:
            with self.database.session(immediate=True) as session:
                schedule = session.get(ScriptSchedule, schedule_id)
                if schedule is None:
                    return None
                script = session.get(Script, schedule.script_id)
                assert script is not None
                run = ScriptRun(
                    script_id=script.id,
                    version=script.current_version,
                    trigger=Trigger.SCHEDULE.value,
                    requested_by=script.owner,
                    schedule_id=schedule_id,
                    scheduled_for=scheduled_for,
                    params={},
                    status=(RunStatus.SKIPPED if skipped else RunStatus.QUEUED).value,
                    queued_at=now,
                    finished_at=now if skipped else None,
                    error=skipped,
                    attempts=[],
                )
                session.add(run)
                session.flush()
                return run.id
        except IntegrityError:
            return None

    def active_runs(self, script_id: int, *, exclude: int | None = None) -> list[int]:
        """Ids of the script's queued or running runs."""
        with self.database.session() as session:
            query = sa.select(ScriptRun.id).where(
                ScriptRun.script_id == script_id, ScriptRun.status.in_(ACTIVE)
            )
            if exclude is not None:
                query = query.where(ScriptRun.id != exclude)
            return list(session.scalars(query).all())

    def claim_run(self, run_id: int, worker: str, *, stale_after: float) -> RunClaim | None:
        """Take a queued run (or one whose worker stopped beating) for ``worker``.

        ``None`` when the run is finished, cancelled, or alive on another worker: a job
        delivered twice is then dropped. Taking over a stale run records its attempt as lost.
        """
        now = self.clock()
        with self.database.session(immediate=True) as session:
            run = session.scalars(
                sa.select(ScriptRun).where(ScriptRun.id == run_id).with_for_update()
            ).first()
            if run is None or RunStatus(run.status).finished:
                return None
            attempts = [dict(a) for a in run.attempts]
            if run.status == RunStatus.RUNNING:
                beat = run.heartbeat_at or run.started_at or now
                if now - beat < timedelta(seconds=stale_after):
                    return None
                if attempts:
                    attempts[-1].update(outcome="lost", ended_at=now.isoformat())
            if run.cancel_requested:
                self._finish(session, run, RunStatus.CANCELLED, error="cancelled before it ran")
                return None
            attempts.append(
                {"attempt": len(attempts) + 1, "worker": worker, "started_at": now.isoformat()}
            )
            run.attempts = attempts
            run.status = RunStatus.RUNNING.value
            run.started_at = run.started_at or now
            run.heartbeat_at = now
            run.worker = worker
            script = session.get(Script, run.script_id)
            assert script is not None
            row = self._version(session, script, run.version)
            return RunClaim(
                run_id=run.id,
                script_id=script.id,
                script=script.name,
                owner=script.owner,
                company_id=script.company_id,
                version=row.version,
                language=row.language,
                code=row.code,
                limits=dict(row.limits),
                params=dict(run.params),
                trigger=run.trigger,
                attempt=len(attempts),
            )

    def heartbeat(self, run_id: int, worker: str) -> bool:
        """Refresh the run's heartbeat; whether a cancel was asked for (stop then)."""
        with self.database.session(immediate=True) as session:
            session.execute(
                sa.update(ScriptRun)
                .where(ScriptRun.id == run_id, ScriptRun.worker == worker)
                .values(heartbeat_at=self.clock())
            )
            cancel = session.scalar(
                sa.select(ScriptRun.cancel_requested).where(ScriptRun.id == run_id)
            )
            return bool(cancel)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        *,
        exit_code: int | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        error: str | None = None,
        artifacts: Sequence[str] = (),
        result: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Close a run and emit ``script.succeeded`` or ``script.failed`` in the same commit."""
        with self.database.session(immediate=True) as session:
            run = session.get(ScriptRun, run_id)
            if run is None:
                raise NotFoundError(f"run {run_id} does not exist")
            self._finish(
                session,
                run,
                status,
                exit_code=exit_code,
                stdout=stdout,
                stderr=stderr,
                error=error,
                artifacts=artifacts,
                result=result,
            )
            script = session.get(Script, run.script_id)
            assert script is not None
            return run_dict(run, script.name)

    def _finish(
        self,
        session: Session,
        run: ScriptRun,
        status: RunStatus,
        *,
        exit_code: int | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        error: str | None = None,
        artifacts: Sequence[str] = (),
        result: Mapping[str, Any] | None = None,
    ) -> None:
        now = self.clock()
        attempts = [dict(a) for a in run.attempts]
        if attempts and "outcome" not in attempts[-1]:
            attempts[-1].update(outcome=status.value, ended_at=now.isoformat())
        run.attempts = attempts
        run.status = status.value
        run.finished_at = now
        run.exit_code = exit_code
        run.stdout, run.stderr, run.error = stdout, stderr, error
        run.artifacts = list(artifacts)
        run.result = dict(result or {})
        script = session.get(Script, run.script_id)
        assert script is not None
        if status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            kind = (
                EventType.SCRIPT_SUCCEEDED
                if status is RunStatus.SUCCEEDED
                else (EventType.SCRIPT_FAILED)
            )
            emit(
                session,
                kind,
                company_id=script.company_id,
                actor=run.requested_by,
                data={
                    "script": script.name,
                    "script_id": script.id,
                    "run_id": run.id,
                    "version": run.version,
                    "trigger": run.trigger,
                    "status": status.value,
                    "exit_code": exit_code,
                    "scheduled_for": _when(run.scheduled_for),
                    "error": error,
                    "attempts": len(attempts),
                },
            )

    def request_cancel(self, principal: Principal, run_id: int) -> dict[str, Any]:
        """Cancel a run: a queued one at once, a running one by its worker (which kills it).

        Raises:
            NotFoundError, AccessDenied, ConflictError (the run is over).
        """
        with self.database.session(immediate=True) as session:
            run = session.get(ScriptRun, run_id)
            script = session.get(Script, run.script_id) if run is not None else None
            if run is None or script is None or not may_see(principal, script):
                raise NotFoundError(f"run {run_id!r} does not exist (or is not yours to see)")
            if not may_change(principal, script):
                raise AccessDenied(f"{principal.name!r} may not cancel runs of {script.name!r}")
            if RunStatus(run.status).finished:
                raise ConflictError(f"run {run_id} is {run.status} already")
            run.cancel_requested = True
            if run.status == RunStatus.QUEUED:
                self._finish(session, run, RunStatus.CANCELLED, error="cancelled before it ran")
            return run_dict(run, script.name, output=False)

    def cancel_active(self, script_id: int) -> list[int]:
        """Ask every active run of a script to stop (concurrency ``replace``)."""
        with self.database.session(immediate=True) as session:
            ids = list(
                session.scalars(
                    sa.select(ScriptRun.id).where(
                        ScriptRun.script_id == script_id, ScriptRun.status.in_(ACTIVE)
                    )
                ).all()
            )
            for run_id in ids:
                run = session.get(ScriptRun, run_id)
                assert run is not None
                run.cancel_requested = True
                if run.status == RunStatus.QUEUED:
                    self._finish(session, run, RunStatus.CANCELLED, error="replaced by a new tick")
            return ids

    def get_run(self, principal: Principal, run_id: int) -> dict[str, Any]:
        """One run with its output.

        Raises:
            NotFoundError: no such run, or not visible to ``principal``.
        """
        with self.database.session() as session:
            run = session.get(ScriptRun, run_id)
            script = session.get(Script, run.script_id) if run is not None else None
            if run is None or script is None or not may_see(principal, script):
                raise NotFoundError(f"run {run_id!r} does not exist (or is not yours to see)")
            return run_dict(run, script.name)

    def list_runs(
        self, principal: Principal, ref: str | None = None, *, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The newest runs (of one script, if given) that ``principal`` may see."""
        with self.database.session() as session:
            query = (
                sa.select(ScriptRun, Script)
                .join(Script, Script.id == ScriptRun.script_id)
                .order_by(ScriptRun.id.desc())
            )
            if ref is not None:
                script = self._script(session, principal, ref)
                query = query.where(ScriptRun.script_id == script.id)
            rows = session.execute(query.limit(limit * 4 if ref is None else limit)).all()
            shown = [run_dict(r, s.name, output=False) for r, s in rows if may_see(principal, s)]
            return shown[:limit]

    def stale_runs(self, *, stale_after: float) -> list[int]:
        """Running runs whose worker has not beaten for ``stale_after`` seconds."""
        cutoff = self.clock() - timedelta(seconds=stale_after)
        with self.database.session() as session:
            return list(
                session.scalars(
                    sa.select(ScriptRun.id).where(
                        ScriptRun.status == RunStatus.RUNNING.value,
                        ScriptRun.heartbeat_at < cutoff,
                    )
                ).all()
            )

    def give_up(self, run_id: int, reason: str) -> None:
        """Fail a run that is out of attempts (its last worker died)."""
        with self.database.session(immediate=True) as session:
            run = session.get(ScriptRun, run_id)
            if run is None or RunStatus(run.status).finished:
                return
            attempts = [dict(a) for a in run.attempts]
            if attempts and "outcome" not in attempts[-1]:
                attempts[-1].update(outcome="lost", ended_at=self.clock().isoformat())
            run.attempts = attempts
            self._finish(session, run, RunStatus.FAILED, error=reason)

    def queued_runs(
        self, *, queued_before: datetime | None = None, limit: int | None = None
    ) -> list[tuple[int, int]]:
        """Queued runs, oldest first, as (run id, attempts recorded).

        They are enqueued again when a worker starts, and by the scheduler when one has
        waited long (its job may be lost).

        Args:
            queued_before: only runs queued before this time.
            limit: at most this many.
        """
        query = sa.select(ScriptRun.id, ScriptRun.attempts).where(
            ScriptRun.status == RunStatus.QUEUED.value
        )
        if queued_before is not None:
            query = query.where(ScriptRun.queued_at < queued_before)
        with self.database.session() as session:
            rows = session.execute(query.order_by(ScriptRun.id).limit(limit)).all()
        return [(run_id, len(attempts or ())) for run_id, attempts in rows]

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _version_row(
        script_id: int, number: int, spec: VersionSpec, author: str, now: datetime
    ) -> ScriptVersion:
        return ScriptVersion(
            script_id=script_id,
            version=number,
            language=spec.language,
            code=spec.code,
            parameters=dict(spec.parameters),
            limits=dict(spec.limits),
            author=author,
            created_at=now,
        )

    @staticmethod
    def _set_schedule(session: Session, script: Script, spec: ScheduleSpec, now: datetime) -> None:
        row = session.scalars(
            sa.select(ScriptSchedule).where(ScriptSchedule.script_id == script.id)
        ).first()
        if row is None:
            row = ScriptSchedule(script_id=script.id, created_at=now)
            session.add(row)
        row.cron = spec.cron
        row.timezone = spec.timezone
        row.catchup = CatchUp(spec.catchup).value
        row.max_catchup = spec.max_catchup
        row.misfire_grace_s = spec.misfire_grace_s
        row.concurrency = Concurrency(spec.concurrency).value
        row.enabled = True
        # A new or changed schedule owes nothing from before it existed.
        row.checked_until = now

    def _script(
        self, session: Session, principal: Principal, ref: str, *, change: bool = False
    ) -> Script:
        text = str(ref)
        query = sa.select(Script).where(
            Script.id == int(text) if text.isdigit() else Script.name == text
        )
        script = session.scalars(query).first()
        if script is None or not may_see(principal, script):
            raise NotFoundError(f"script {ref!r} does not exist (or is not yours to see)")
        if change and not may_change(principal, script):
            raise AccessDenied(
                f"{principal.name!r} may not change or run script {script.name!r} (owned by "
                f"{script.owner!r})"
            )
        return script

    @staticmethod
    def _version(session: Session, script: Script, version: int | None) -> ScriptVersion:
        number = script.current_version if version is None else version
        row = session.scalars(
            sa.select(ScriptVersion).where(
                ScriptVersion.script_id == script.id, ScriptVersion.version == number
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"script {script.name!r} has no version {number!r} (1 to {script.current_version})"
            )
        return row

    def _script_dict(
        self, session: Session, script: Script, *, code: bool = True
    ) -> dict[str, Any]:
        row = self._version(session, script, None)
        schedule = session.scalars(
            sa.select(ScriptSchedule).where(ScriptSchedule.script_id == script.id)
        ).first()
        last = session.scalars(
            sa.select(ScriptRun)
            .where(ScriptRun.script_id == script.id)
            .order_by(ScriptRun.id.desc())
            .limit(1)
        ).first()
        data: dict[str, Any] = {
            "id": script.id,
            "name": script.name,
            "description": script.description,
            "owner": script.owner,
            "company_id": script.company_id,
            "enabled": script.enabled,
            "version": script.current_version,
            "language": row.language,
            "parameters": row.parameters,
            "limits": row.limits,
            "schedule": schedule_dict(schedule, self.clock()),
            "last_run": None if last is None else {"id": last.id, "status": last.status},
            "created_at": _when(script.created_at),
            "updated_at": _when(script.updated_at),
        }
        if code:
            data["code"] = row.code
        return data
