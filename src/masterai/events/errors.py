"""Errors of the events package.

```
EventsError                  root
├── InvalidSubscription      a webhook's event, URL, secret or company is malformed
├── EventsNotFound           no such webhook or delivery (or not visible to the caller)
└── EventsDenied             the caller may not manage that webhook
```
"""

from __future__ import annotations


class EventsError(Exception):
    """Root of the events package's errors: a clear, user-facing message."""


class InvalidSubscription(EventsError, ValueError):
    """A webhook subscription's arguments are malformed; the message names the value."""


class EventsNotFound(EventsError, LookupError):
    """A webhook or delivery does not exist, or the caller may not see it."""


class EventsDenied(EventsError):
    """The caller may not manage that webhook (another company's, or a platform one)."""
