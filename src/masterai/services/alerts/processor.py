"""The monitor loop: queued messages and the audit stream through the monitors.

:meth:`MonitorProcessor.process_once` is one round: claim a batch of queued messages, run
every active realtime custom tool of each message's company over its assistant messages (one
registry call, so one audit record and one sandbox process, per tool and batch: the warm path),
look for secrets in every message, then examine the audit records after the watermark.
:meth:`MonitorProcessor.run` repeats rounds until stopped; ``Platform.background()`` and
``masterai worker`` start it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from masterai.registry import ExecutionContext, ToolResult
from masterai.security import Principal
from masterai.services.alerts import queue
from masterai.services.alerts.monitors import AuditMonitors, secret_in_message
from masterai.services.alerts.service import NewAlert, record_alert
from masterai.services.alerts.vocab import SEVERITY_OF, Monitor, Severity, SourceKind
from masterai.settings import MonitorSettings
from masterai.store import Database
from masterai.store.models import AuditRecord
from masterai.store.models.alerts import MonitorCursor

log = logging.getLogger(__name__)

AUDIT_CURSOR = "audit"
"""The name of the audit stream's watermark in ``monitor_cursors``."""
MONITORED_ROLE = "assistant"
"""Realtime custom tools run on the messages of this role."""
REGISTRY_TOOL = "registry"
RUN_BATCH = "run_realtime_batch"
"""The registry operation that runs one realtime tool over one batch (one audit record)."""
MAX_CALL_MESSAGES = 200
MAX_CALL_BYTES = 128 * 1024
"""A batch larger than this (messages, or content bytes) is split over several calls, well
inside the registry's limit on a call's arguments (``MAX_PARAMS_BYTES``, 256 KiB)."""


class RealtimeToolInfo(Protocol):
    """An active realtime custom tool (``masterai.services.custom_tools.RealtimeTool``)."""

    @property
    def name(self) -> str: ...  # noqa: D102

    @property
    def version(self) -> int: ...  # noqa: D102

    @property
    def owner(self) -> str: ...  # noqa: D102


class RealtimeTools(Protocol):
    """Which realtime tools serve a company (``CustomToolRunner.active_realtime_tools``)."""

    def active_realtime_tools(self, company_id: str) -> Sequence[RealtimeToolInfo]:
        """The active realtime tools serving ``company_id``."""
        ...


class RunOutcomeInfo(Protocol):
    """One run's outcome (``masterai.services.custom_tools.RunOutcome``)."""

    @property
    def ok(self) -> bool: ...  # noqa: D102

    @property
    def value(self) -> Any: ...  # noqa: D102

    @property
    def error(self) -> str | None: ...  # noqa: D102

    @property
    def refused(self) -> tuple[str, ...]: ...  # noqa: D102


PrincipalLoader = Callable[[str], Principal]
"""``load(name) -> Principal`` (``Platform.principal``): whom a realtime tool runs as."""
RegistryCall = Callable[[str, dict[str, Any], ExecutionContext], Awaitable[ToolResult]]
"""``await call(tool, params, context)`` (``Platform.call``): the one door."""

MESSAGE_FIELDS = ("id", "role", "content", "seq", "created_at", "model")
"""What a realtime tool sees of a message (``args["message"]``, docs/alerts.md)."""


def message_record(message: queue.QueuedMessage) -> dict[str, Any]:
    """A queued message as ``run_realtime_batch`` takes it (JSON: its fields and conversation)."""
    return {
        "id": message.message_id,
        "role": message.role,
        "content": message.content,
        "seq": message.seq,
        "created_at": message.created_at.isoformat(),
        "model": message.model,
        "conversation_id": message.conversation_id,
    }


def realtime_arguments(company_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a realtime custom tool receives for one message (docs/alerts.md).

    ``record`` is a :func:`message_record` (or a playground reply shaped like one).
    """
    return {
        "text": record.get("content", ""),
        "message": {k: record.get(k) for k in MESSAGE_FIELDS},
        "conversation_id": record.get("conversation_id"),
        "company_id": company_id,
    }


def worker_address() -> str:
    """The client address of the monitors' registry calls (``monitors@HOST``, 64 at most)."""
    return f"monitors@{socket.gethostname()}"[:64]


@dataclass(frozen=True, kw_only=True)
class RoundReport:
    """What one round did."""

    messages: int
    """Queued messages processed."""
    runs: int
    """Custom tool runs (one per tool and message)."""
    audit_records: int
    """Audit records examined."""
    alerts: int
    """Alerts raised."""
    failures: int
    """Custom tool runs that failed (logged; the message is not retried)."""

    @property
    def idle(self) -> bool:
        """Nothing was waiting."""
        return self.messages == 0 and self.audit_records == 0


class MonitorProcessor:
    """Runs the realtime monitors over queued messages and the audit stream.

    Realtime custom tools run through the registry (``registry.run_realtime_batch``, as the
    tool's owner): each tool and batch is one audited call. Without ``tools``, ``call`` and
    ``load_principal`` only the built-in monitors run.

    Args:
        database: the store (queue, alerts, audit log).
        settings: thresholds and batch sizes.
        tools: which realtime custom tools serve a company (the custom tool runner).
        call: the registry call (``Platform.call``).
        load_principal: ``load(name) -> Principal`` for a realtime tool's owner.
    """

    def __init__(
        self,
        database: Database,
        settings: MonitorSettings,
        *,
        tools: RealtimeTools | None = None,
        call: RegistryCall | None = None,
        load_principal: PrincipalLoader | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self._tools = tools
        self._call = call
        self._load_principal = load_principal
        self._cursor_ready = False

    async def run(self, stop: asyncio.Event) -> None:
        """Process rounds until ``stop`` is set, resting ``poll_seconds`` when idle."""
        while not stop.is_set():
            report = await self.process_once()
            if report.idle:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._settings.poll_seconds)

    async def process_once(self) -> RoundReport:
        """One round: a batch of queued messages, then a batch of audit records."""
        batch = await asyncio.to_thread(
            queue.claim,
            self._database,
            limit=self._settings.batch_size,
            lease_seconds=self._settings.lease_seconds,
        )
        found: list[NewAlert] = [a for m in batch if (a := secret_in_message(m)) is not None]
        runs, failures = 0, 0
        if batch and self._runs_tools:
            runs, failures, tool_alerts = await self._run_tools(batch)
            found.extend(tool_alerts)
        if batch:
            await asyncio.to_thread(self._complete, found, [m.queue_id for m in batch])
        examined, audit_alerts = await asyncio.to_thread(self._examine_audit)
        return RoundReport(
            messages=len(batch),
            runs=runs,
            audit_records=examined,
            alerts=len(found) + audit_alerts,
            failures=failures,
        )

    @property
    def _runs_tools(self) -> bool:
        return None not in (self._tools, self._call, self._load_principal)

    async def _run_tools(self, batch: list[queue.QueuedMessage]) -> tuple[int, int, list[NewAlert]]:
        assert self._tools is not None
        by_company: dict[str, list[queue.QueuedMessage]] = defaultdict(list)
        for message in batch:
            if message.role == MONITORED_ROLE:
                by_company[message.company_id].append(message)
        runs, failures, found = 0, 0, []
        for company, messages in by_company.items():
            tools = await asyncio.to_thread(self._tools.active_realtime_tools, company)
            for tool in tools:
                outcomes = await self._run_tool(tool, company, messages)
                runs += len(messages)
                for message, outcome in zip(messages, outcomes, strict=False):
                    if not outcome.ok:
                        failures += 1
                        log.warning(
                            "realtime tool %s failed on message %s: %s",
                            tool.name,
                            message.message_id,
                            outcome.error,
                        )
                    found.extend(_outcome_alerts(tool, message, outcome))
        return runs, failures, found

    async def _run_tool(
        self, tool: RealtimeToolInfo, company_id: str, messages: list[queue.QueuedMessage]
    ) -> Sequence[RunOutcomeInfo]:
        assert self._call is not None and self._load_principal is not None
        try:
            # The owner's current permissions: a deactivated owner's tool stops running.
            principal = await asyncio.to_thread(self._load_principal, tool.owner)
            outcomes: list[RunOutcomeInfo] = []
            for chunk in _chunks(messages):
                outcomes.extend(await self._call_batch(tool, company_id, chunk, principal))
            return outcomes
        except Exception as e:  # one tool's failure never stops the others or the loop
            log.warning("realtime tool %s could not run: %s", tool.name, e)
            return [_Failed(error=f"{type(e).__name__}: {e}")] * len(messages)

    async def _call_batch(
        self,
        tool: RealtimeToolInfo,
        company_id: str,
        messages: list[queue.QueuedMessage],
        principal: Principal,
    ) -> list[RunOutcomeInfo]:
        """One ``registry.run_realtime_batch`` call: one audit record, one sandbox process."""
        assert self._call is not None
        params = {
            "operation": RUN_BATCH,
            "name": tool.name,
            "company_id": company_id,
            "messages": [message_record(m) for m in messages],
        }
        context = ExecutionContext(principal=principal, client_address=worker_address())
        result = await self._call(REGISTRY_TOOL, params, context)
        outcomes = _result_outcomes(result)
        if outcomes is None or len(outcomes) != len(messages):
            error = result.error or f"{RUN_BATCH} returned no outcome per message"
            return [_Failed(error=f"{result.status}: {error}")] * len(messages)
        return list(outcomes)

    def _complete(self, found: list[NewAlert], queue_ids: list[int]) -> None:
        """Store the batch's alerts and remove it from the queue in one transaction.

        A round that dies before this commits leaves the batch to be taken again after its
        lease, with no alert stored twice.
        """
        with self._database.session() as session:
            for alert in found:
                record_alert(session, alert)
            queue.finish_in(session, queue_ids)

    def _ensure_audit_cursor(self) -> None:
        """Add the audit cursor if it is missing, in a transaction of its own.

        Processors starting together may both find it missing (a row lock holds nothing
        before the row exists); the one that loses the insert then uses the winner's row.
        """
        # Immediate: on SQLite two read-then-write transactions would refuse each other.
        with suppress(IntegrityError), self._database.session(immediate=True) as session:
            if session.get(MonitorCursor, AUDIT_CURSOR) is None:
                session.add(MonitorCursor(name=AUDIT_CURSOR, position=0))
        self._cursor_ready = True

    def _examine_audit(self) -> tuple[int, int]:
        """Examine the audit records after the watermark; move it in the same transaction."""
        if not self._cursor_ready:
            self._ensure_audit_cursor()
        with self._database.session(immediate=True) as session:
            query = sa.select(MonitorCursor).where(MonitorCursor.name == AUDIT_CURSOR)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            cursor = session.scalars(query).one_or_none()
            if cursor is None:  # deleted since: added again next round
                self._cursor_ready = False
                return 0, 0
            records = list(
                session.scalars(
                    sa.select(AuditRecord)
                    .where(AuditRecord.id > cursor.position)
                    .order_by(AuditRecord.id)
                    .limit(self._settings.batch_size)
                )
            )
            monitors = AuditMonitors(self._settings, session)
            raised = 0
            for record in records:
                for alert in list(monitors.examine(record)):
                    record_alert(session, alert)
                    raised += 1
                    session.flush()
            if records:
                cursor.position = records[-1].id
            return len(records), raised

    def audit_position(self) -> tuple[int, int]:
        """``(watermark, newest audit record id)``."""
        with self._database.session() as session:
            position = session.scalar(
                sa.select(MonitorCursor.position).where(MonitorCursor.name == AUDIT_CURSOR)
            )
            head = session.scalar(sa.select(sa.func.max(AuditRecord.id)))
        return int(position or 0), int(head or 0)


def _chunks(messages: list[queue.QueuedMessage]) -> list[list[queue.QueuedMessage]]:
    """``messages`` in runs of at most ``MAX_CALL_MESSAGES`` and about ``MAX_CALL_BYTES``."""
    chunks: list[list[queue.QueuedMessage]] = [[]]
    size = 0
    for message in messages:
        length = len(message.content.encode()) + 256  # the other fields, roughly
        if chunks[-1] and (len(chunks[-1]) >= MAX_CALL_MESSAGES or size + length > MAX_CALL_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(message)
        size += length
    return [c for c in chunks if c]


@dataclass(frozen=True, kw_only=True)
class _Failed:
    error: str
    ok: bool = False
    value: Any = None
    refused: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    ok: bool
    value: Any = None
    error: str | None = None
    refused: tuple[str, ...] = ()


def _result_outcomes(result: ToolResult) -> list[RunOutcomeInfo] | None:
    """The per-message outcomes of a successful ``run_realtime_batch`` result."""
    body = result.data.get("result") if result.ok and isinstance(result.data, dict) else None
    items = body.get("outcomes") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return None
    return [
        _Outcome(
            ok=bool(item.get("ok")),
            value=item.get("value"),
            error=item.get("error"),
            refused=tuple(item.get("refused") or ()),
        )
        for item in items
        if isinstance(item, dict)
    ]


def _outcome_alerts(
    tool: RealtimeToolInfo, message: queue.QueuedMessage, outcome: RunOutcomeInfo
) -> list[NewAlert]:
    """A ``custom_tool.alert`` for ``{"alert": true, ...}``; a security alert for refusals."""
    found: list[NewAlert] = []
    value = outcome.value
    if outcome.ok and isinstance(value, dict) and value.get("alert") is True:
        found.append(
            NewAlert(
                source=tool.name,
                source_kind=SourceKind.CUSTOM_TOOL,
                severity=_severity(value.get("severity")),
                kind=str(value.get("kind") or tool.name),
                message=str(value.get("message") or f"{tool.name} raised an alert"),
                company_id=message.company_id,
                details={"version": tool.version, "result": value},
                message_id=message.message_id,
                conversation_id=message.conversation_id,
                principal=tool.owner,
            )
        )
    if outcome.refused:
        found.append(
            NewAlert(
                source=Monitor.SANDBOX_REFUSAL.value,
                source_kind=SourceKind.MONITOR,
                severity=SEVERITY_OF[Monitor.SANDBOX_REFUSAL],
                kind=Monitor.SANDBOX_REFUSAL.value,
                message=f"realtime tool {tool.name} v{tool.version} tried what the sandbox "
                f"refuses: {', '.join(outcome.refused)}",
                company_id=message.company_id,
                details={"tool": tool.name, "version": tool.version, "refused": outcome.refused},
                message_id=message.message_id,
                conversation_id=message.conversation_id,
                principal=tool.owner,
            )
        )
    return found


def _severity(value: Any) -> Severity:
    """The severity a tool's result names (``medium`` when it names none or an unknown one)."""
    try:
        return Severity(value)
    except ValueError:
        return Severity.MEDIUM
