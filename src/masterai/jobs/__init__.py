"""Jobs: the scheduler (cron in time zones, one leader by lease) and the queues that run scripts.

Entry points: :class:`Scheduler`, :class:`InProcessQueue` (the embedded default),
:class:`RedisQueue` (a SAQ worker fleet, ``masterai worker --queue redis://...``),
:class:`RunExecutor` (a run as one registry call made as the script's owner),
:class:`ManualClock` (tests), and :func:`run_jobs` (what ``masterai serve`` and
``masterai worker`` start). The database is the ledger: queues carry run ids only.
"""

from masterai.jobs.clock import Clock, ManualClock, system_clock
from masterai.jobs.queue import InProcessQueue, JobQueue
from masterai.jobs.runner import RunExecutor, worker_name
from masterai.jobs.scheduler import PassReport, Scheduler, choose_ticks
from masterai.jobs.service import run_jobs

__all__ = [
    "Clock",
    "InProcessQueue",
    "JobQueue",
    "ManualClock",
    "PassReport",
    "RunExecutor",
    "Scheduler",
    "choose_ticks",
    "run_jobs",
    "system_clock",
    "worker_name",
]
