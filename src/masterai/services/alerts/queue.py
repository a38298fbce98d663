"""The durable queue of ingested messages waiting for the realtime monitors.

:func:`enqueue_conversations` adds the messages of newly written conversations in the
writer's transaction (the importer calls it), so a message is queued exactly when it is
stored. :func:`claim` leases a batch to one processor; :func:`finish_in` deletes what was
processed, in the transaction that stores its alerts. A batch whose processor died is taken
again once its lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from masterai.store import Database
from masterai.store.models import Conversation, Message, utcnow
from masterai.store.models.alerts import MonitorQueueItem

_CHUNK = 5000


def enqueue_conversations(session: Session, conversation_ids: Sequence[str]) -> None:
    """Queue every message of ``conversation_ids`` (call in the transaction that wrote them)."""
    for start in range(0, len(conversation_ids), _CHUNK):
        chunk = list(conversation_ids[start : start + _CHUNK])
        rows = (
            sa.select(Message.id, Conversation.company_id, sa.literal(0))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.conversation_id.in_(chunk))
        )
        session.execute(
            sa.insert(MonitorQueueItem).from_select(["message_id", "company_id", "attempts"], rows)
        )


@dataclass(frozen=True, kw_only=True)
class QueuedMessage:
    """One claimed message with what the monitors need of it."""

    queue_id: int
    message_id: int
    company_id: str
    conversation_id: str
    seq: int
    role: str
    content: str
    created_at: datetime
    model: str | None
    enqueued_at: datetime
    attempts: int


def claim(database: Database, *, limit: int, lease_seconds: float) -> list[QueuedMessage]:
    """Lease up to ``limit`` queued messages (oldest first) to the caller."""
    now = utcnow()
    with database.session(immediate=True) as session:
        free = sa.or_(
            MonitorQueueItem.claimed_until.is_(None), MonitorQueueItem.claimed_until < now
        )
        query = (
            sa.select(MonitorQueueItem, Message, Conversation.id)
            .join(Message, Message.id == MonitorQueueItem.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(free)
            .order_by(MonitorQueueItem.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=MonitorQueueItem, skip_locked=True)
        rows = session.execute(query).all()
        ids = [item.id for item, _, _ in rows]
        if ids:
            session.execute(
                sa.update(MonitorQueueItem)
                .where(MonitorQueueItem.id.in_(ids))
                .values(
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    attempts=MonitorQueueItem.attempts + 1,
                )
                .execution_options(synchronize_session=False)  # rows below keep the old count
            )
        return [
            QueuedMessage(
                queue_id=item.id,
                message_id=message.id,
                company_id=item.company_id,
                conversation_id=conversation_id,
                seq=message.seq,
                role=message.role,
                content=message.content,
                created_at=message.created_at,
                model=message.model,
                enqueued_at=item.enqueued_at,
                attempts=item.attempts + 1,
            )
            for item, message, conversation_id in rows
        ]


def finish_in(session: Session, queue_ids: Sequence[int]) -> None:
    """Remove processed messages from the queue, in ``session``'s transaction."""
    for start in range(0, len(queue_ids), _CHUNK):
        chunk = list(queue_ids[start : start + _CHUNK])
        session.execute(sa.delete(MonitorQueueItem).where(MonitorQueueItem.id.in_(chunk)))


@dataclass(frozen=True, kw_only=True)
class Backlog:
    """How far behind the monitors are."""

    messages: int
    """Messages waiting."""
    oldest_enqueued_at: datetime | None
    lag_seconds: float
    """Age of the oldest waiting message (0 when nothing waits)."""
    audit_records: int
    """Audit records not yet examined by the threat monitors."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        oldest = self.oldest_enqueued_at
        return {
            "messages": self.messages,
            "oldest_enqueued_at": oldest.isoformat() if oldest else None,
            "lag_seconds": round(self.lag_seconds, 3),
            "audit_records": self.audit_records,
        }


def backlog(database: Database, *, audit_position: int, audit_head: int) -> Backlog:
    """The queue's size and lag, and how many audit records are still to be examined."""
    with database.session() as session:
        count, oldest = session.execute(
            sa.select(sa.func.count(MonitorQueueItem.id), sa.func.min(MonitorQueueItem.enqueued_at))
        ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    lag = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return Backlog(
        messages=int(count),
        oldest_enqueued_at=oldest,
        lag_seconds=max(lag, 0.0),
        audit_records=max(audit_head - audit_position, 0),
    )
