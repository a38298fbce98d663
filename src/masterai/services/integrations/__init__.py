"""Integrations: outbound HTTP, read-only database queries, e-mail and CSV processing.

Entry points: :class:`HttpService` (``call_webhook``, ``make_api_call``), :class:`DatabaseService`
(``query_database``, connection checks), :class:`EmailService` (``send_email``, SMTP checks)
and :class:`CsvService` (``process_csv``). Webhook subscriptions and platform events live in
:mod:`masterai.events`. The ``integration`` tool (:mod:`masterai.tools.integration`) adapts
them; see ``docs/integrations.md``.
"""

from masterai.services.integrations.database import (
    ConnectionHealth,
    DatabaseService,
    QueryResult,
    QueryTimeout,
)
from masterai.services.integrations.email import (
    EmailHealth,
    EmailNotConfigured,
    EmailResult,
    EmailService,
)
from masterai.services.integrations.http import HttpResult, HttpService
from masterai.services.integrations.sqlcheck import CheckedQuery, check_read_only
from masterai.services.integrations.tables import CsvResult, CsvService

__all__ = [
    "CheckedQuery",
    "ConnectionHealth",
    "CsvResult",
    "CsvService",
    "DatabaseService",
    "EmailHealth",
    "EmailNotConfigured",
    "EmailResult",
    "EmailService",
    "HttpResult",
    "HttpService",
    "QueryResult",
    "QueryTimeout",
    "check_read_only",
]
