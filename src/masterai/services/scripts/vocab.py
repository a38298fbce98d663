"""The vocabularies of scripts and runs: one enum each, imported everywhere."""

from __future__ import annotations

from enum import StrEnum

from masterai.services.errors import ServiceError


class RunStatus(StrEnum):
    """Where a run stands."""

    QUEUED = "queued"
    """Recorded; waiting for a worker."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """The program exited with 0."""
    FAILED = "failed"
    """Non-zero exit, a time-out, a refusal, or out of attempts."""
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    """A schedule tick not run (concurrency ``forbid`` while another run was active)."""

    @property
    def finished(self) -> bool:
        """Whether the run is over (nothing more will happen to it)."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


class Trigger(StrEnum):
    """Why a run happened."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    API = "api"


class CatchUp(StrEnum):
    """What a schedule does with ticks missed beyond the misfire grace (scheduler down)."""

    NONE = "none"
    """Skip them: only ticks within the grace run."""
    LATEST = "latest"
    """Run the newest due tick once, whatever was missed before it."""
    ALL = "all"
    """Run every missed tick, the newest ``max_catchup`` of them."""


class Concurrency(StrEnum):
    """What a schedule tick does while an earlier run of the script is still active."""

    ALLOW = "allow"
    FORBID = "forbid"
    """Record the tick as skipped."""
    REPLACE = "replace"
    """Cancel the active runs, then run."""


class AccessDenied(ServiceError, PermissionError):
    """The caller may not see or change this script (or run)."""


SCRIPT_LANGUAGES_EXTRA = ("tool",)
"""Besides the sandbox languages: ``tool`` scripts are registry calls (JSON) made as the
owner, so a schedule can run any operation the owner may run (``run_integration_tests``)."""
