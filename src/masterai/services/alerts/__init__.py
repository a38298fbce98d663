"""Alerts, realtime monitors and threat detection (issue 17, part B; docs/alerts.md).

- :func:`record_alert` stores an alert and emits ``custom_tool.alert`` or ``security.alert``.
- :class:`AlertService` lists and acknowledges alerts for a principal.
- :func:`enqueue_conversations` queues ingested messages (the importer calls it);
  :class:`MonitorProcessor` runs realtime custom tools and the built-in threat monitors over
  the queue and the audit stream.
"""

from __future__ import annotations

from masterai.services.alerts.processor import (
    AUDIT_CURSOR,
    MonitorProcessor,
    RealtimeTools,
    RegistryCall,
    RoundReport,
    message_record,
    realtime_arguments,
)
from masterai.services.alerts.queue import Backlog, QueuedMessage, backlog, enqueue_conversations
from masterai.services.alerts.service import (
    AlertFilter,
    AlertService,
    NewAlert,
    alert_dict,
    record_alert,
)
from masterai.services.alerts.vocab import SEVERITY_OF, Monitor, Severity, SourceKind

__all__ = [
    "AUDIT_CURSOR",
    "SEVERITY_OF",
    "AlertFilter",
    "AlertService",
    "Backlog",
    "Monitor",
    "MonitorProcessor",
    "NewAlert",
    "QueuedMessage",
    "RealtimeTools",
    "RegistryCall",
    "RoundReport",
    "Severity",
    "SourceKind",
    "alert_dict",
    "backlog",
    "enqueue_conversations",
    "message_record",
    "realtime_arguments",
    "record_alert",
]
