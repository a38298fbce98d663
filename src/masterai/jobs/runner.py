"""Executing a queued run: one registry call as the script's owner, audited."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from masterai.registry import ExecutionContext, ToolResult
from masterai.security import AuthenticationError, load_principal
from masterai.services.scripts import ScriptService
from masterai.store import Database
from masterai.store.models.scripts import Script, ScriptRun

log = logging.getLogger(__name__)

Call = Callable[[str, dict[str, Any], ExecutionContext], Awaitable[ToolResult]]
"""One registry call (``Platform.call``)."""


def worker_name() -> str:
    """``worker:<host>:<pid>``: who ran an attempt, in run records and audit."""
    return f"worker:{socket.gethostname()}:{os.getpid()}"[:64]


class RunExecutor:
    """Runs queued runs through the registry: ``code.run_script`` with ``run_id``, as the owner.

    Args:
        database: the platform database (to find the run's owner).
        call: makes one registry call.
        scripts: the run ledger (for runs whose owner is gone).
    """

    def __init__(self, database: Database, call: Call, scripts: ScriptService) -> None:
        self._database = database
        self._call = call
        self._scripts = scripts

    async def __call__(self, run_id: int) -> None:
        """Execute run ``run_id`` (nothing happens if it is not runnable any more)."""
        owner = await asyncio.to_thread(self._owner, run_id)
        if owner is None:
            return
        try:
            principal = await asyncio.to_thread(load_principal, self._database, owner)
        except AuthenticationError:
            from masterai.services.scripts import RunStatus

            await asyncio.to_thread(
                self._scripts.finish_run,
                run_id,
                RunStatus.FAILED,
                error=f"the owner {owner!r} is not an active user",
            )
            return
        context = ExecutionContext(principal=principal, client_address=worker_name())
        result = await self._call("code", {"operation": "run_script", "run_id": run_id}, context)
        if not result.ok:
            log.warning("run %s: %s %s", run_id, result.status, result.error)

    def _owner(self, run_id: int) -> str | None:
        with self._database.session() as session:
            run = session.get(ScriptRun, run_id)
            script = session.get(Script, run.script_id) if run is not None else None
            return script.owner if script is not None else None
