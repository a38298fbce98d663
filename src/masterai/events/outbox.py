"""Writing events: :func:`emit` adds one to the outbox in the caller's transaction."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from masterai.events.types import EventType
from masterai.store.models.events import Event


def new_event_uid() -> str:
    """A fresh public event id (``evt_`` and 24 hex digits)."""
    return f"evt_{secrets.token_hex(12)}"


def emit(
    session: Session,
    event_type: EventType,
    *,
    company_id: str | None,
    data: Mapping[str, Any],
    actor: str | None = None,
) -> Event:
    """Add an event to the outbox in ``session``'s transaction.

    It commits (and so is delivered) exactly when the change that caused it commits; a
    rolled-back change leaves no event behind.

    Args:
        session: the session of the change the event describes.
        event_type: what happened.
        company_id: the company it happened to (``None``: the platform).
        data: JSON-ready details (other values are written as text).
        actor: who caused it, when known.
    """
    plain = json.loads(json.dumps(dict(data), default=str))
    row = Event(
        uid=new_event_uid(),
        type=EventType(event_type).value,
        company_id=company_id,
        data=plain,
        actor=actor,
    )
    session.add(row)
    return row
