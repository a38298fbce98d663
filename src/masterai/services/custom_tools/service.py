"""``CustomToolService``: custom tools, their versions, test reports and activation.

Who may do what: a super admin everything; the owner (who created, imported or installed the
tool) manages it; others may see and call an *active* tool when its scope lets them (see
:func:`may_call`). Every change of what is active bumps the ``custom_tool_state`` counter in
the same commit, so every server process notices (:meth:`CustomToolService.generation`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from masterai.security import Principal
from masterai.security.roles import SUPER_ADMIN
from masterai.services.custom_tools.runner import RunOutcome, spec_of
from masterai.services.custom_tools.schedules import sync_schedule
from masterai.services.custom_tools.spec import ToolSpec, check_name
from masterai.services.custom_tools.vocab import (
    CustomToolAccessDenied,
    CustomToolNotFound,
    Origin,
    TestsFailing,
    ToolStatus,
    ToolTrigger,
)
from masterai.services.errors import ConflictError, InvalidInputError
from masterai.services.scripts import ScriptService
from masterai.store import Database
from masterai.store.models import Company, utcnow
from masterai.store.models.custom_tools import CustomTool, CustomToolState, CustomToolVersion

Clock = Callable[[], datetime]
STATE = "tools"


def may_call(principal: Principal, owner: str, spec: ToolSpec) -> bool:
    """Whether ``principal`` may see and call a tool of ``owner`` with ``spec``'s scope.

    The owner and super admins always may; anyone else needs a role named in ``roles`` and,
    when the tool names ``companies``, read access to one of them.
    """
    if principal.role == SUPER_ADMIN or principal.name == owner:
        return True
    if principal.role not in spec.roles:
        return False
    data = principal.permissions.data_access
    return not spec.companies or any(data.can_read(c) for c in spec.companies)


def may_manage(principal: Principal, tool: CustomTool) -> bool:
    """Whether ``principal`` may change ``tool`` (its owner or a super admin)."""
    return principal.role == SUPER_ADMIN or principal.name == tool.owner


def code_diff(old: ToolSpec | None, new: ToolSpec, name: str) -> str:
    """A unified diff of the code (and of the other fields that changed) from ``old``."""
    before = old.code if old is not None else ""
    label = "active" if old is not None else "(nothing active)"
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            new.code.splitlines(keepends=True),
            fromfile=f"{name} {label}",
            tofile=f"{name} candidate",
        )
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    text = text or "(no change in the code)\n"
    if old is not None:
        old_data, new_data = old.canonical(), new.canonical()
        changed = sorted(k for k in new_data if k != "code" and old_data.get(k) != new_data[k])
        if changed:
            text += f"also changed: {', '.join(changed)}\n"
    return text


def report_of(outcomes: list[RunOutcome], spec: ToolSpec) -> dict[str, Any]:
    """The test report of ``outcomes`` (one per test case of ``spec``)."""
    import jsonschema

    cases = []
    for i, (case, outcome) in enumerate(zip(spec.tests, outcomes, strict=True)):
        name = str(case.get("name") or f"case {i + 1}")
        failure: str | None = None
        if not outcome.ok:
            failure = outcome.error or "failed"
        elif "expected" in case and outcome.value != case["expected"]:
            failure = f"expected {case['expected']!r}, got {outcome.value!r}"
        elif "assert" in case:
            try:
                jsonschema.validate(outcome.value, dict(case["assert"]))
            except jsonschema.ValidationError as e:
                failure = f"assertion failed: {e.message}"
        cases.append(
            {
                "name": name,
                "passed": failure is None,
                "actual": outcome.value,
                "failure": failure,
                "refused": list(outcome.refused),
            }
        )
    passed = sum(c["passed"] for c in cases)
    return {"passed": passed, "failed": len(cases) - passed, "cases": cases}


class CustomToolService:
    """Custom tools in the store.

    Args:
        database: the platform database.
        clock: the current time.
    """

    def __init__(self, database: Database, *, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock
        self.scripts = ScriptService(database, clock=clock)

    # --- changes -----------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        name: str,
        spec: ToolSpec,
        *,
        origin: Origin = Origin.CREATED,
        provenance: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Save a new tool as a draft (version 1).

        Raises:
            InvalidInputError: a bad name or definition.
            NotFoundError: a company of the scope does not exist.
            ConflictError: a tool (custom or built-in) of that name exists.
        """
        check_name(name)
        spec = spec.checked()
        now = self.clock()
        with self.database.session(immediate=True) as session:
            self._check_companies(session, spec)
            if session.scalar(sa.select(CustomTool.id).where(CustomTool.name == name)):
                raise ConflictError(
                    f"a custom tool named {name!r} exists already: use update_custom_tool"
                )
            tool = CustomTool(
                name=name,
                owner=principal.name,
                status=ToolStatus.DRAFT.value,
                latest_version=1,
                origin=origin.value,
                created_at=now,
                updated_at=now,
            )
            session.add(tool)
            session.flush()
            session.add(_version_row(tool, 1, name, spec, principal.name, now, provenance))
            session.flush()
            return self._tool_dict(session, tool)

    def update(self, principal: Principal, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """A new version from the newest one with ``changes`` (ToolSpec fields) applied.

        The active version (if any) stays active until the new one is activated.

        Raises:
            CustomToolNotFound, CustomToolAccessDenied, InvalidInputError.
        """
        if not changes:
            raise InvalidInputError("nothing to change: give code, parameters, tests, ...")
        now = self.clock()
        with self.database.session(immediate=True) as session:
            tool = self._tool(session, principal, name, manage=True)
            latest = spec_of(self._version(session, tool, tool.latest_version))
            base = latest.canonical()
            if changes.get("trigger", ToolTrigger.SCHEDULE.value) != ToolTrigger.SCHEDULE.value:
                base["schedule"] = None  # leaving the schedule trigger drops its cron
            merged = ToolSpec.from_mapping({**base, **changes}).checked()
            self._check_companies(session, merged)
            tool.latest_version += 1
            tool.updated_at = now
            session.add(
                _version_row(tool, tool.latest_version, name, merged, principal.name, now, None)
            )
            session.flush()
            return self._tool_dict(session, tool)

    def record_test(
        self, principal: Principal, name: str, version: int, report: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Keep ``report`` as the last test run of ``version``."""
        with self.database.session(immediate=True) as session:
            tool = self._tool(session, principal, name, manage=True)
            row = self._version(session, tool, version)
            row.test_report = {**report, "content_hash": row.content_hash}
            row.tested_at = self.clock()
            return {"tool": name, "version": version, **report}

    def activate(self, principal: Principal, name: str, version: int) -> dict[str, Any]:
        """Make ``version`` the active one (it is registered under the tool's name).

        Raises:
            TestsFailing: the version has no test cases, was never tested, or failed.
            CustomToolNotFound, CustomToolAccessDenied.
        """
        with self.database.session(immediate=True) as session:
            tool = self._tool(session, principal, name, manage=True)
            row = self._version(session, tool, version)
            _check_tested(name, row)
            tool.status = ToolStatus.ACTIVE.value
            tool.active_version = version
            tool.updated_at = self.clock()
            self._bump(session)
        sync_schedule(self.database, name, scripts=self.scripts)
        return self.get(principal, name)

    def check_tested(self, principal: Principal, name: str, version: int) -> None:
        """Raise :class:`TestsFailing` unless ``version`` has tests and its last run passed."""
        with self.database.session() as session:
            tool = self._tool(session, principal, name)
            _check_tested(name, self._version(session, tool, version))

    def disable(self, principal: Principal, name: str) -> dict[str, Any]:
        """Unregister the tool (its versions are kept; activate again to restore it)."""
        with self.database.session(immediate=True) as session:
            tool = self._tool(session, principal, name, manage=True)
            if tool.status == ToolStatus.ACTIVE.value:
                tool.status = ToolStatus.DISABLED.value
                tool.updated_at = self.clock()
                self._bump(session)
        sync_schedule(self.database, name, scripts=self.scripts)
        return self.get(principal, name)

    def delete(self, principal: Principal, name: str) -> dict[str, Any]:
        """Delete the tool with all its versions (the audit trail keeps what happened)."""
        with self.database.session(immediate=True) as session:
            tool = self._tool(session, principal, name, manage=True)
            summary = {"name": name, "deleted": True, "versions": tool.latest_version}
            was_active = tool.status == ToolStatus.ACTIVE.value
            session.execute(
                sa.delete(CustomToolVersion).where(CustomToolVersion.tool_id == tool.id)
            )
            session.delete(tool)
            if was_active:
                self._bump(session)
        sync_schedule(self.database, name, scripts=self.scripts)
        return summary

    # --- reads -------------------------------------------------------------------------

    def get(self, principal: Principal, name: str) -> dict[str, Any]:
        """A tool with its newest version's definition and every version's summary."""
        with self.database.session() as session:
            tool = self._tool(session, principal, name)
            return self._tool_dict(session, tool, detail=True)

    def list_tools(
        self, principal: Principal, *, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The tools ``principal`` may see, by name."""
        with self.database.session() as session:
            query = sa.select(CustomTool).order_by(CustomTool.name)
            if status is not None:
                query = query.where(CustomTool.status == status)
            return [
                self._tool_dict(session, tool)
                for tool in session.scalars(query)
                if self._may_see(session, principal, tool)
            ]

    def version_spec(
        self, principal: Principal, name: str, version: int | None
    ) -> tuple[ToolSpec, int, str]:
        """A version's spec, its number (default: the newest) and the tool's owner."""
        with self.database.session() as session:
            tool = self._tool(session, principal, name)
            row = self._version(session, tool, version or tool.latest_version)
            return spec_of(row), row.version, tool.owner

    def version_row(self, principal: Principal, name: str, version: int | None) -> dict[str, Any]:
        """A version as JSON data with its author, hash and provenance."""
        with self.database.session() as session:
            tool = self._tool(session, principal, name)
            row = self._version(session, tool, version or tool.latest_version)
            return {
                "name": name,
                "version": row.version,
                "author": row.author,
                "content_hash": row.content_hash,
                "provenance": row.provenance,
                "definition": spec_of(row).canonical(),
            }

    def active_diff(self, principal: Principal, name: str, version: int) -> str:
        """The diff an approver is shown: ``version`` against the active version."""
        with self.database.session() as session:
            tool = self._tool(session, principal, name)
            candidate = spec_of(self._version(session, tool, version))
            active = (
                spec_of(self._version(session, tool, tool.active_version))
                if tool.active_version and tool.status == ToolStatus.ACTIVE.value
                else None
            )
            row = self._version(session, tool, version)
            report = row.test_report or {}
            tested = (
                f"tests: {report.get('passed', 0)} passed, {report.get('failed', 0)} failed"
                if row.test_report
                else "tests: never run"
            )
            head = (
                f"activate custom tool {name!r} version {version} "
                f"(trigger {candidate.trigger}; {tested})\n"
            )
            return head + code_diff(active, candidate, name)

    def active_tools(self) -> list[tuple[str, str, int, ToolSpec]]:
        """Every active tool: name, owner, version and spec (what the registry registers)."""
        with self.database.session() as session:
            rows = session.execute(
                sa.select(CustomTool.name, CustomTool.owner, CustomToolVersion)
                .join(CustomToolVersion, CustomToolVersion.tool_id == CustomTool.id)
                .where(
                    CustomTool.status == ToolStatus.ACTIVE.value,
                    CustomToolVersion.version == CustomTool.active_version,
                )
                .order_by(CustomTool.name)
            ).all()
            return [(name, owner, v.version, spec_of(v)) for name, owner, v in rows]

    def generation(self) -> int:
        """The change counter: it grows whenever what is active changes."""
        with self.database.session() as session:
            value = session.scalar(
                sa.select(CustomToolState.generation).where(CustomToolState.name == STATE)
            )
            return int(value or 0)

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _bump(session: Session) -> None:
        updated = session.execute(
            sa.update(CustomToolState)
            .where(CustomToolState.name == STATE)
            .values(generation=CustomToolState.generation + 1)
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            session.add(CustomToolState(name=STATE, generation=1))

    @staticmethod
    def _check_companies(session: Session, spec: ToolSpec) -> None:
        for company in spec.companies:
            if session.get(Company, company) is None:
                raise CustomToolNotFound(f"company {company!r} does not exist")

    def _tool(
        self, session: Session, principal: Principal, name: str, *, manage: bool = False
    ) -> CustomTool:
        tool = session.scalar(sa.select(CustomTool).where(CustomTool.name == name))
        if tool is None or not self._may_see(session, principal, tool):
            raise CustomToolNotFound(f"no custom tool named {name!r}")
        if manage and not may_manage(principal, tool):
            raise CustomToolAccessDenied(
                f"{principal.name!r} may not change custom tool {name!r} (owner: {tool.owner!r})"
            )
        return tool

    def _may_see(self, session: Session, principal: Principal, tool: CustomTool) -> bool:
        if may_manage(principal, tool):
            return True
        if tool.status != ToolStatus.ACTIVE.value or tool.active_version is None:
            return False
        return may_call(principal, tool.owner, spec_of(self._version(session, tool, None)))

    @staticmethod
    def _version(session: Session, tool: CustomTool, version: int | None) -> CustomToolVersion:
        number = version if version is not None else tool.active_version or tool.latest_version
        row = session.scalar(
            sa.select(CustomToolVersion).where(
                CustomToolVersion.tool_id == tool.id, CustomToolVersion.version == number
            )
        )
        if row is None:
            raise CustomToolNotFound(
                f"custom tool {tool.name!r} has no version {number!r} "
                f"(versions 1 to {tool.latest_version})"
            )
        return row

    def _tool_dict(
        self, session: Session, tool: CustomTool, *, detail: bool = False
    ) -> dict[str, Any]:
        latest = self._version(session, tool, tool.latest_version)
        data: dict[str, Any] = {
            "name": tool.name,
            "description": latest.description,
            "owner": tool.owner,
            "status": tool.status,
            "active_version": tool.active_version,
            "latest_version": tool.latest_version,
            "origin": tool.origin,
            "trigger": latest.trigger,
            "language": latest.language,
            "last_test": _test_line(latest),
            "updated_at": tool.updated_at.isoformat(),
        }
        if detail:
            data["definition"] = spec_of(latest).canonical()
            data["content_hash"] = latest.content_hash
            data["provenance"] = latest.provenance
            data["test_report"] = latest.test_report
            if tool.latest_version != tool.active_version:
                active = (
                    spec_of(self._version(session, tool, tool.active_version))
                    if tool.active_version is not None and tool.status == ToolStatus.ACTIVE.value
                    else None
                )
                data["pending_diff"] = code_diff(active, spec_of(latest), tool.name)
            versions = session.scalars(
                sa.select(CustomToolVersion)
                .where(CustomToolVersion.tool_id == tool.id)
                .order_by(CustomToolVersion.version)
            )
            data["versions"] = [
                {
                    "version": v.version,
                    "author": v.author,
                    "created_at": v.created_at.isoformat(),
                    "content_hash": v.content_hash,
                    "last_test": _test_line(v),
                }
                for v in versions
            ]
        return data


def _version_row(
    tool: CustomTool,
    version: int,
    name: str,
    spec: ToolSpec,
    author: str,
    now: datetime,
    provenance: Mapping[str, Any] | None,
) -> CustomToolVersion:
    return CustomToolVersion(
        tool_id=tool.id,
        version=version,
        description=spec.description,
        language=spec.language,
        code=spec.code,
        parameters=dict(spec.parameters),
        output_schema=dict(spec.output_schema) if spec.output_schema is not None else None,
        tests=[dict(t) for t in spec.tests],
        trigger=spec.trigger,
        schedule=spec.schedule,
        timezone=spec.timezone,
        companies=sorted(spec.companies),
        roles=sorted(spec.roles),
        content_hash=spec.content_hash(name),
        author=author,
        provenance=dict(provenance or {}),
        created_at=now,
    )


def _check_tested(name: str, row: CustomToolVersion) -> None:
    if not row.tests:
        raise TestsFailing(
            f"version {row.version} of {name!r} has no tests; add tests (update_custom_tool) "
            "and run test_custom_tool before activating"
        )
    report = row.test_report
    if report is None or report.get("content_hash") != row.content_hash:
        raise TestsFailing(
            f"version {row.version} of {name!r} was never tested: run test_custom_tool first"
        )
    if report.get("failed") or not report.get("passed"):
        failing = [c["name"] for c in report.get("cases", []) if not c.get("passed")]
        raise TestsFailing(
            f"version {row.version} of {name!r} fails {len(failing)} test(s) "
            f"({', '.join(failing)}); fix it and test again"
        )


def _test_line(row: CustomToolVersion) -> str:
    report = row.test_report
    if report is None:
        return "never tested"
    return f"{report.get('passed', 0)} passed, {report.get('failed', 0)} failed"


__all__ = ["CustomToolService", "code_diff", "may_call", "may_manage", "report_of"]
