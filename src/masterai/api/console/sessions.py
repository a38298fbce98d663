"""Console sessions, one-time login links, CSRF tokens and the login rate limit.

- A session is a row of ``console_sessions`` keyed by the SHA-256 of a random secret; the
  cookie holds the secret, so a copy of the database logs nobody in. A session ends at
  logout or after ``settings.api.session_hours`` without a request (idle expiry).
- Each session has its own CSRF token, sent back with every POST (form field
  ``csrf_token`` or header ``X-CSRF-Token``). The login forms, before any session exists,
  use a double-submit token: a random cookie the form must repeat.
- A login link (``masterai login-link``) is a row of ``login_links`` keyed by the hash of
  its secret; consuming it is one conditional ``UPDATE``, so it works once, also across
  worker processes.
- Failed logins are audited (tool ``(console login)``, status ``denied``) and the rate limit
  counts those audit records per client address over the last minute, so the limit is held
  in the database: it holds across worker processes and restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from masterai.store import Database
from masterai.store.models import AuditRecord, ConsoleSession, LoginLink, User, utcnow

SESSION_COOKIE = "masterai_session"
LOGIN_COOKIE = "masterai_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_TOOL = "(console login)"
"""The audit's tool name of a refused console login (what the rate limit counts)."""
TOUCH_EVERY = timedelta(seconds=60)
"""A session's idle clock is written at most this often (fewer writes per page)."""


def new_secret() -> str:
    """A random secret of 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Hex SHA-256 of a secret: what the tables store (the secrets carry 256 random bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    """A live session."""

    id: str
    """Hex SHA-256 of the cookie's secret."""
    user_id: int
    user_name: str
    csrf_token: str
    expires_at: datetime


class SessionStore:
    """The console's sessions, login links and failed-login counts over the store.

    Args:
        database: The store.
        idle: How long a session lasts without a request.
    """

    def __init__(self, database: Database, *, idle: timedelta) -> None:
        self.database = database
        self.idle = idle

    def create(self, user_id: int) -> tuple[str, SessionInfo]:
        """A new session for ``user_id``: the cookie's secret and the session."""
        secret = new_secret()
        now = utcnow()
        row = ConsoleSession(
            id=digest(secret),
            user_id=user_id,
            csrf_token=new_secret(),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.idle,
        )
        with self.database.session() as s:
            # Expired sessions go whenever a new one starts: the table stays small.
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
            s.add(row)
            user = s.get(User, user_id)
            name = user.name if user is not None else "?"
        return secret, SessionInfo(
            id=row.id,
            user_id=user_id,
            user_name=name,
            csrf_token=row.csrf_token,
            expires_at=row.expires_at,
        )

    def lookup(self, secret: str | None) -> SessionInfo | None:
        """The live session whose cookie secret is ``secret``, its idle clock restarted.

        An expired session is deleted and ``None`` returned.
        """
        if not secret or len(secret) > 128:
            return None
        key = digest(secret)
        now = utcnow()
        with self.database.session() as s:
            row = s.get(ConsoleSession, key)
            if row is None:
                return None
            if row.expires_at <= now:
                s.delete(row)
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                row.last_seen_at = now
                row.expires_at = now + self.idle
            user = s.get(User, row.user_id)
            if user is None:
                return None
            return SessionInfo(
                id=row.id,
                user_id=row.user_id,
                user_name=user.name,
                csrf_token=row.csrf_token,
                expires_at=row.expires_at,
            )

    def end(self, session_id: str) -> None:
        """Delete a session (logout)."""
        with self.database.session() as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))

    def consume_link(self, secret: str) -> int | None:
        """The user a login link logs in, marking the link used.

        ``None`` if the link is unknown, used or expired, or its user is deactivated. One
        conditional update, so two requests cannot both use a link.
        """
        if not secret or len(secret) > 128:
            return None
        key = digest(secret)
        now = utcnow()
        with self.database.session() as s:
            used = s.execute(
                update(LoginLink)
                .where(
                    LoginLink.id == key,
                    LoginLink.used_at.is_(None),
                    LoginLink.expires_at > now,
                )
                .values(used_at=now)
            )
            if getattr(used, "rowcount", 0) != 1:
                return None
            link = s.get(LoginLink, key)
            user = s.get(User, link.user_id) if link is not None else None
            return user.id if user is not None and user.is_active else None

    def link_is_usable(self, secret: str) -> bool:
        """Whether a login link exists, is unused and has not expired (nothing changes)."""
        if not secret or len(secret) > 128:
            return False
        with self.database.session() as s:
            link = s.get(LoginLink, digest(secret))
            return link is not None and link.used_at is None and link.expires_at > utcnow()

    def failed_logins(self, address: str, *, within: timedelta = timedelta(minutes=1)) -> int:
        """Refused console logins from ``address`` in the last ``within`` (audit records)."""
        since = utcnow() - within
        with self.database.session() as s:
            count = s.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(
                    AuditRecord.tool == LOGIN_TOOL,
                    AuditRecord.status == "denied",
                    AuditRecord.client_address == address[:64],
                    AuditRecord.created_at >= since,
                )
            )
        return int(count or 0)
