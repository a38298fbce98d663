"""Scripts, their schedules and runs, and company test suites (services layer).

Entry points: :class:`ScriptService` (scripts, versions, schedules, the run ledger),
:class:`TestSuiteService` (generated suites and their reports), the vocabularies
(:class:`RunStatus`, :class:`Trigger`, :class:`CatchUp`, :class:`Concurrency`) and the cron
helpers of :mod:`masterai.services.scripts.cron`. The ``code`` tool adapts them
(:mod:`masterai.tools.code_scripts`); :mod:`masterai.jobs` schedules and runs them.
"""

from masterai.services.scripts.cron import check_cron, check_timezone, due_ticks, next_tick
from masterai.services.scripts.service import (
    RunClaim,
    ScheduleSpec,
    ScriptService,
    VersionSpec,
    may_change,
    may_see,
)
from masterai.services.scripts.suites import SOURCES, TestSuiteService, runnable
from masterai.services.scripts.vocab import (
    AccessDenied,
    CatchUp,
    Concurrency,
    RunStatus,
    Trigger,
)

__all__ = [
    "SOURCES",
    "AccessDenied",
    "CatchUp",
    "Concurrency",
    "RunClaim",
    "RunStatus",
    "ScheduleSpec",
    "ScriptService",
    "TestSuiteService",
    "Trigger",
    "VersionSpec",
    "check_cron",
    "check_timezone",
    "due_ticks",
    "may_change",
    "may_see",
    "next_tick",
    "runnable",
]
