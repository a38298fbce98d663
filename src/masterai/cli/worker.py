"""``masterai worker``: the scheduler and workers alone (CLI-only installs, or a Redis fleet)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from masterai.cli.common import console


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to ``app``."""
    app.command("worker")(worker)


def worker(
    queue: Annotated[
        str | None,
        typer.Option(
            "--queue",
            help="redis://host:port/db: serve the shared Redis queue (default: MASTERAI_JOBS__"
            "QUEUE, else in-process).",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Runs at the same time (default 2).")
    ] = None,
) -> None:
    """Run the script scheduler and workers until interrupted (Ctrl-C).

    Any number may run, on one or many machines: one scheduler holds the lease, the others
    stand by; with --queue every process takes runs from the shared queue. Each run is a
    registry call made as the script's owner, audited. The realtime monitors run here too
    (MASTERAI_MONITORS__ENABLED; see docs/alerts.md).
    """
    from masterai.app import supervise
    from masterai.cli.context import open_platform

    platform = open_platform(warm_sandboxes=True)
    # A worker runs its sandboxes here: sending a script's run back to the queue could leave
    # every worker waiting on the others.
    platform.settings.jobs.queue_executions = False
    if workers is not None:
        platform.settings.jobs.workers = workers
    where = queue or platform.settings.jobs.queue or "in-process"
    console.print(
        f"masterai worker: scheduler and {platform.settings.jobs.workers} workers ({where})"
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # A failure (the database or Redis away) restarts the work, not the process.
        work = [supervise("jobs", lambda s: platform.run_jobs(s, queue_url=queue), stop)]
        if platform.settings.monitors.enabled:
            work.append(supervise("monitors", platform.run_monitors, stop))
        await asyncio.gather(*work)

    asyncio.run(main())
