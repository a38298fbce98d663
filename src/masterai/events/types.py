"""The vocabulary of platform events: one enum, imported wherever an event is emitted."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Every event type the platform emits (later issues add more here)."""

    CONFIGURATION_CHANGED = "configuration.changed"
    """A company's active configuration changed (data: version, base_version, fields, ...)."""
    CONFIGURATION_ROLLED_BACK = "configuration.rolled_back"
    """A company's configuration was restored from an earlier version."""
    TEST_FAILED = "test.failed"
    """A configuration test run had failing cases."""
    SCRIPT_SUCCEEDED = "script.succeeded"
    SCRIPT_FAILED = "script.failed"
    CUSTOM_TOOL_ALERT = "custom_tool.alert"
    FINE_TUNE_SUCCEEDED, FINE_TUNE_FAILED = "fine_tune.succeeded", "fine_tune.failed"
    SECURITY_ALERT = "security.alert"
    AUDIT_VERIFY_FAILED = "audit.verify_failed"


class DeliveryStatus(StrEnum):
    """Where a delivery of one event to one webhook stands."""

    PENDING = "pending"
    """Waiting for its (next) attempt."""
    DELIVERED = "delivered"
    """A 2xx answer was received."""
    DEAD = "dead"
    """Dead-lettered: out of attempts, or refused for good (permissions, egress)."""


ALL_EVENTS = "*"
"""A subscription pattern matching every event type."""


def check_pattern(pattern: object) -> str:
    """``pattern`` if it names events: a type, ``family.*`` or ``*``.

    Raises:
        ValueError: naming the pattern and the known event types.
    """
    known = [t.value for t in EventType]
    if isinstance(pattern, str):
        if pattern == ALL_EVENTS or pattern in known:
            return pattern
        if pattern.endswith(".*") and any(t.startswith(pattern[:-1]) for t in known):
            return pattern
    raise ValueError(f"unknown event {pattern!r}. Known: {', '.join(known)}; or 'family.*', or '*'")


def matches(pattern: str, event_type: str) -> bool:
    """Whether a subscription ``pattern`` matches ``event_type``."""
    if pattern in (ALL_EVENTS, event_type):
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])
