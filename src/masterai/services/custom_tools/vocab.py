"""The vocabularies and errors of custom tools: one enum each, imported everywhere."""

from __future__ import annotations

from enum import StrEnum

from masterai.services.errors import ConflictError, NotFoundError, ServiceError


class ToolStatus(StrEnum):
    """Where a custom tool stands."""

    DRAFT = "draft"
    """Saved, never activated (or a new version waits): not callable."""
    ACTIVE = "active"
    """One version is registered under the tool's name."""
    DISABLED = "disabled"
    """Was active; unregistered until activated again."""


class ToolTrigger(StrEnum):
    """When a custom tool runs besides being called."""

    MANUAL = "manual"
    """Only when called."""
    SCHEDULE = "schedule"
    """On a cron schedule, through the scheduler (``masterai.jobs``)."""
    REALTIME = "realtime"
    """On every new assistant message of its companies (the monitors run it)."""


class Origin(StrEnum):
    """Where a tool came from."""

    CREATED = "created"
    IMPORTED = "imported"
    CATALOG = "catalog"


LANGUAGES = ("python", "javascript")
CATEGORY = "custom"
"""The policy category of custom tools (a code category: callers need code execution)."""
"""Languages custom code may be written in."""


class CustomToolNotFound(NotFoundError):
    """No custom tool (or version, or active version) of that name."""


class CustomToolAccessDenied(ServiceError, PermissionError):
    """The caller may not see or change this custom tool."""


class TestsFailing(ConflictError):
    """Activation refused: the version has no passing test run."""

    __test__ = False  # not a pytest class


class BundleError(ServiceError):
    """A bundle is malformed, tampered with, or signed by a key this instance does not trust."""
