"""The composition root: settings -> database -> registry (every tool) -> agent.

Every face (the CLI now; HTTP, MCP and workers next) builds one :class:`Platform` and acts
only through its registry, so every action is permission-checked, validated once and audited.
Nothing is opened or imported before it is needed: the database on first use, each tool (and
its libraries: pandas, DuckDB, the sandbox) on its first call.

Example:
    >>> platform = Platform(Settings())  # doctest: +SKIP
    >>> context = platform.context(platform.principal("admin"), client_address="script")
    >>> result = asyncio.run(platform.call("clock", {"operation": "get_time"}, context))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

from masterai.registry import (
    Approver,
    CallRequest,
    ExecutionContext,
    RegistryError,
    ToolRegistry,
    ToolResult,
)
from masterai.security import Principal, TokenAuthenticator, load_principal
from masterai.settings import Settings
from masterai.store import Database, open_database

log = logging.getLogger(__name__)

RESTART_DELAY = 5.0
"""Seconds before a failed background loop is started again."""


async def supervise(
    name: str, run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run ``run(stop)`` until ``stop`` is set, starting it again after a failure.

    ``masterai serve`` supervises its background loops, ``masterai worker`` its jobs.
    """
    while not stop.is_set():
        try:
            await run(stop)
        except Exception:
            log.exception("%s failed; starting it again in %g s", name, RESTART_DELAY)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_DELAY)


if TYPE_CHECKING:
    from masterai.agent import Approver as PlanApprover
    from masterai.agent import EventSink, MasterAI
    from masterai.llm import Model
    from masterai.services.alerts import MonitorProcessor


class Platform:
    """Master AI assembled from one settings object.

    Args:
        settings: the settings (default: read from the environment, ``MASTERAI_*``).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def database(self) -> Database:
        """The database, migrated to the newest schema (opened on first use)."""
        return open_database(self.settings)

    @cached_property
    def registry(self) -> ToolRegistry:
        """The registry with every built-in tool (each built on its first call)."""
        from masterai.tools import build_registry

        jobs = self.settings.jobs
        if jobs.queue and jobs.queue_executions:
            from masterai.jobs.executions import QueuedExecutions

            url = jobs.queue
            return build_registry(
                self.settings,
                self.database,
                executions=lambda local: QueuedExecutions(url, self.settings, local),
            )
        return build_registry(self.settings, self.database)

    @cached_property
    def tokens(self) -> TokenAuthenticator:
        """API token authentication for the faces that serve many requests (HTTP, MCP)."""
        return TokenAuthenticator(self.database)

    def principal(self, name: str | None = None) -> Principal:
        """The active user ``name`` (default: the local super admin ``masterai init`` made).

        Raises:
            AuthenticationError: no such active user.
        """
        return load_principal(self.database, name or self.settings.registry.local_admin)

    def context(
        self,
        principal: Principal,
        *,
        company_id: str | None = None,
        client_address: str | None = None,
        approver: Approver | None = None,
    ) -> ExecutionContext:
        """The context of one call (or of a chat turn's calls)."""
        return ExecutionContext(
            principal=principal,
            company_id=company_id,
            client_address=client_address,
            approver=approver,
        )

    def ensure_audit_key(self) -> str:
        """Load the audit key, creating it for a log without signed records; where it lives.

        ``masterai init`` calls it; every call does too, so nothing runs that could not be
        audited.

        Raises:
            AuditKeyError: the key is missing although records are signed, or unreadable.
        """
        audit_log = self.registry.audit_log
        audit_log.ensure_key()
        return audit_log.key_source

    async def call(
        self, tool: str, params: dict[str, Any], context: ExecutionContext
    ) -> ToolResult:
        """One registry call (permission, validation, approval, limits, audit).

        Raises:
            AuditKeyError: the audit key is missing or unusable (checked before the call
                runs, so no action goes unaudited).
        """
        if not self.registry.audit_log.key_loaded:
            await asyncio.to_thread(self.ensure_audit_key)
        return await self.registry.execute_tool(tool, params, context)

    def call_sync(self, tool: str, params: dict[str, Any], context: ExecutionContext) -> ToolResult:
        """:meth:`call` for code without an event loop (the CLI)."""
        return asyncio.run(self.call(tool, params, context))

    def call_rejection(self, request: CallRequest, error: RegistryError) -> ToolResult:
        """Audit a call a face refused before the registry's steps (see ``registry.reject``)."""
        return asyncio.run(self.registry.reject(request, error))

    def agent(
        self,
        *,
        model: Model,
        approver: PlanApprover,
        on_event: EventSink | None = None,
    ) -> MasterAI:
        """The agent over this platform's registry."""
        from masterai.agent import MasterAI

        return MasterAI(
            model=model,
            registry=self.registry,
            approver=approver,
            database=self.database,
            settings=self.settings.agent,
            on_event=on_event,
        )

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Run the platform's background work while the block runs.

        The event dispatcher (webhook deliveries, ``integrations.dispatch``), the script
        scheduler with its in-process workers (``jobs.scheduler``) and the realtime monitors
        (``monitors.enabled``); a loop
        that fails is logged and started again after ``RESTART_DELAY`` seconds, so one bad
        round never stops deliveries. ``masterai serve`` enters it in each worker process.
        """
        stop = asyncio.Event()
        tasks = []
        if self.settings.integrations.dispatch:
            tasks.append(asyncio.create_task(supervise("event dispatcher", self._dispatch, stop)))
        if self.settings.jobs.scheduler:
            tasks.append(asyncio.create_task(supervise("scheduler", self.run_jobs, stop)))
        if self.settings.aidev.fine_tune_tracker:
            tasks.append(asyncio.create_task(supervise("fine-tune tracker", self._track, stop)))
        if self.settings.monitors.enabled:
            tasks.append(asyncio.create_task(supervise("monitors", self.run_monitors, stop)))
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _track(self, stop: asyncio.Event) -> None:
        from masterai.services.aidev.finetune import track
        from masterai.tools.aidev.training import build

        interval = self.settings.aidev.fine_tune_poll_seconds
        await track(build(self.settings, self.database).fine_tunes(), stop, interval=interval)

    async def _dispatch(self, stop: asyncio.Event) -> None:
        from masterai.events import Dispatcher

        settings = self.settings
        await Dispatcher(self.database, settings.integrations, settings.egress).run(stop)

    def monitor_processor(self) -> MonitorProcessor:
        """The realtime monitor loop: custom tools and threat monitors (docs/alerts.md).

        Realtime custom tools run through this platform's registry, as their owners.
        """
        from masterai.sandbox import CodeExecutionEnvironment
        from masterai.services.alerts import MonitorProcessor
        from masterai.services.custom_tools.runner import CustomToolRunner

        # Only lists the active realtime tools; their runs are registry calls.
        tools = CustomToolRunner(self.database, lambda: CodeExecutionEnvironment(self.settings))
        return MonitorProcessor(
            self.database,
            self.settings.monitors,
            tools=tools,
            call=self.call,
            load_principal=self.principal,
        )

    async def run_monitors(self, stop: asyncio.Event) -> None:
        """The realtime monitors until ``stop`` (``monitors`` settings)."""
        await self.monitor_processor().run(stop)

    async def run_jobs(self, stop: asyncio.Event, *, queue_url: str | None = None) -> None:
        """The scheduler and workers (``jobs`` settings) until ``stop``; runs are registry calls."""
        from masterai.jobs import run_jobs

        await asyncio.to_thread(self.ensure_audit_key)
        work = [run_jobs(self.database, self.call, self.settings.jobs, stop, queue_url=queue_url)]
        url = queue_url or self.settings.jobs.queue
        if url:  # this process also serves the fleet's code executions
            from masterai.jobs.executions import ExecutionServer
            from masterai.sandbox import CodeExecutionEnvironment

            sandbox = CodeExecutionEnvironment(self.settings)
            work.append(ExecutionServer(url, self.settings, sandbox).run(stop))
        await asyncio.gather(*work)

    def close(self) -> None:
        """Close what was opened: built tools that hold resources, pooled connections."""
        registry = self.__dict__.get("registry")
        if registry is not None:
            registry.close()
        database = self.__dict__.get("database")
        if database is not None:
            database.dispose()
