"""Platform events: the outbox, webhook subscriptions and the dispatcher.

Entry points: :func:`emit` (add an event in the caller's transaction), :class:`EventType`
(the vocabulary), :class:`WebhookRepository` (subscriptions, the delivery log, redelivery),
:class:`Dispatcher` (``dispatch_once()`` / ``run(stop)``), and :mod:`masterai.events.signing`
(what receivers verify). See ``docs/events.md``.

Example:
    ```python
    with database.session() as session:
        ...  # the change itself
        emit(session, EventType.CONFIGURATION_CHANGED, company_id="acme", data={"version": 3})
    await Dispatcher(database, settings.integrations, settings.egress).dispatch_once()
    ```
"""

from masterai.events.dispatcher import Dispatcher, DispatchReport, event_body
from masterai.events.errors import EventsDenied, EventsError, EventsNotFound, InvalidSubscription
from masterai.events.outbox import emit, new_event_uid
from masterai.events.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signature_headers,
    verify,
)
from masterai.events.types import ALL_EVENTS, DeliveryStatus, EventType, check_pattern, matches
from masterai.events.webhooks import DeliveryInfo, WebhookInfo, WebhookRepository

__all__ = [
    "ALL_EVENTS",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DeliveryInfo",
    "DeliveryStatus",
    "DispatchReport",
    "Dispatcher",
    "EventType",
    "EventsDenied",
    "EventsError",
    "EventsNotFound",
    "InvalidSubscription",
    "WebhookInfo",
    "WebhookRepository",
    "check_pattern",
    "emit",
    "event_body",
    "matches",
    "new_event_uid",
    "signature",
    "signature_headers",
    "verify",
]
