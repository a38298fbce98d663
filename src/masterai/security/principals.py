"""Principals (users, API tokens), token hashing, and resolving a principal's permissions.

Permissions are built in layers: the role's defaults (:mod:`masterai.security.roles`), the
role row's ``permissions`` overrides, the user's companies (``user_companies``), then the
user's own ``permission_grants``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from masterai.security.errors import AuthenticationError
from masterai.security.permissions import (
    ANY,
    ToolPermissions,
    apply_override,
    apply_overrides,
)
from masterai.security.roles import SUPER_ADMIN, role_defaults
from masterai.store import Database
from masterai.store.models import ApiToken, Role, SecurityGeneration, User, utcnow

TOKEN_PREFIX = "mai_"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is acting: a user, possibly through one of their API tokens."""

    name: str
    role: str
    permissions: ToolPermissions = field(default_factory=ToolPermissions)
    user_id: int | None = None
    token_id: int | None = None
    """Set when the principal authenticated with an API token."""

    @property
    def is_super_admin(self) -> bool:
        """Whether this is a super admin (every permission)."""
        return self.role == SUPER_ADMIN


def new_token() -> str:
    """A fresh random API token (shown once; only its hash is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token: what ``api_tokens.token_hash`` stores.

    A fast hash is enough here: tokens carry 256 random bits, so there is nothing to guess.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def permissions_for(user: User, role: Role | None) -> ToolPermissions:
    """The effective permissions of ``user`` (role defaults, role overrides, companies, grants)."""
    permissions = role_defaults(user.role)
    if role is not None and role.permissions:
        permissions = apply_overrides(permissions, role.permissions)
    data = permissions.data_access
    read = set(data.read_companies)
    write = set(data.write_companies)
    for link in user.companies:
        (write if link.access == "write" else read).add(link.company_id)
    permissions = dataclasses.replace(
        permissions,
        data_access=dataclasses.replace(
            data, read_companies=frozenset(read), write_companies=frozenset(write)
        ),
    )
    for grant in sorted(user.grants, key=lambda g: g.key):
        permissions = apply_override(permissions, grant.key, grant.value)
    return permissions


def _principal(user: User, role: Role | None, token_id: int | None = None) -> Principal:
    return Principal(
        name=user.name,
        role=user.role,
        user_id=user.id,
        token_id=token_id,
        permissions=permissions_for(user, role),
    )


def load_principal(database: Database, name: str, *, active_only: bool = True) -> Principal:
    """The principal of the user called ``name`` (by default: only an active one).

    Raises:
        AuthenticationError: no such user, or the user is deactivated (``active_only``).
    """
    with database.session() as s:
        user = s.scalars(select(User).where(User.name == name)).one_or_none()
        if user is None:
            raise AuthenticationError(f"Unknown user {name!r}")
        if active_only and not user.is_active:
            raise AuthenticationError(f"User {name!r} is deactivated")
        return _principal(user, s.get(Role, user.role))


LAST_USE_RESOLUTION = timedelta(minutes=1)
"""A token's recorded last use is refreshed at most this often (one write per token a minute,
not one per request)."""


def authenticate_token(database: Database, token: str) -> Principal:
    """The principal an API token belongs to; records its last use (to the minute).

    Reads the token, its user, role, companies and grants every time; faces that answer
    many requests use a :class:`TokenAuthenticator`, which keeps what this reads.

    Raises:
        AuthenticationError: unknown, revoked or expired token, or inactive user.
    """
    entry = _load_token(database, hash_token(token), generation=0)
    _record_use(database, entry)
    return entry.principal


@dataclass(kw_only=True)
class _Authenticated:
    principal: Principal
    token_id: int
    expires_at: datetime | None
    prefix: str
    last_used_at: datetime | None
    generation: int


def _load_token(database: Database, digest: str, *, generation: int) -> _Authenticated:
    with database.session() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
        if row is None or row.revoked_at is not None:
            raise AuthenticationError("Invalid or revoked API token")
        _refuse_expired(row.prefix, row.expires_at)
        user = s.get(User, row.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("The API token's user is deactivated")
        return _Authenticated(
            principal=_principal(user, s.get(Role, user.role), token_id=row.id),
            token_id=row.id,
            expires_at=row.expires_at,
            prefix=row.prefix,
            last_used_at=row.last_used_at,
            generation=generation,
        )


def _refuse_expired(prefix: str, expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise AuthenticationError(f"API token {prefix}... expired at {expires_at}")


def _record_use(database: Database, entry: _Authenticated) -> None:
    """Write the token's last use when the recorded one is a minute old or more.

    Its own short transaction taking the write lock first, so concurrent requests wait for
    each other instead of failing on SQLite's lock upgrade. The update changes only
    ``last_used_at``, which leaves the security generation as it is.
    """
    now = utcnow()
    if entry.last_used_at is not None and now - entry.last_used_at < LAST_USE_RESOLUTION:
        return
    with database.session(immediate=True) as s:
        s.execute(update(ApiToken).where(ApiToken.id == entry.token_id).values(last_used_at=now))
    entry.last_used_at = now


_GENERATION = select(SecurityGeneration.value).where(SecurityGeneration.id == 1)


class TokenAuthenticator:
    """Authenticates API tokens for a face that answers many requests (one per process).

    A token's principal is kept while the database's security generation is unchanged
    (:class:`~masterai.store.models.SecurityGeneration`, counted by triggers on users, roles,
    company links, grants and tokens). Each request reads that one number instead of the
    five rows behind a principal. The read it uses began after the request arrived, so a
    revocation, deactivation or permission change committed before a request is seen by it,
    as without the cache; requests arriving together share one read. Expiry is checked
    against the clock on every request.

    Args:
        database: the platform database.
        max_entries: tokens kept at most (the least recently added go first).
    """

    def __init__(self, database: Database, *, max_entries: int = 4096) -> None:
        self._database = database
        self._max_entries = max_entries
        self._entries: dict[str, _Authenticated] = {}
        self._lock = threading.Lock()
        self._read_done = threading.Condition(threading.Lock())
        self._reading = False
        self._last_read: tuple[float, int | None] | None = None
        """(monotonic time the newest finished read began, the generation it read)."""

    def authenticate(self, token: str) -> Principal:
        """The principal ``token`` belongs to; records its last use (to the minute).

        Raises:
            AuthenticationError: unknown, revoked or expired token, or inactive user.
        """
        digest = hash_token(token)
        generation = self._generation(since=time.monotonic())
        with self._lock:
            entry = self._entries.get(digest)
        if generation is None:  # no row to count changes: nothing may be kept
            entry = _load_token(self._database, digest, generation=-1)
        elif entry is None or entry.generation != generation:
            entry = _load_token(self._database, digest, generation=generation)
            with self._lock:
                if len(self._entries) >= self._max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[digest] = entry
        else:
            _refuse_expired(entry.prefix, entry.expires_at)
        _record_use(self._database, entry)
        return entry.principal

    def _generation(self, *, since: float) -> int | None:
        """The security generation, read by a query that began at or after ``since``.

        ``None`` when its row is missing (deleted by hand): the triggers then count nothing.
        """
        with self._read_done:
            while True:
                if self._last_read is not None and self._last_read[0] >= since:
                    return self._last_read[1]
                if not self._reading:
                    self._reading = True
                    break
                self._read_done.wait()
        began = time.monotonic()
        read = False
        try:
            with self._database.engine.connect() as conn:  # lighter than an ORM session
                value = conn.scalar(_GENERATION)
            read = True
        finally:
            with self._read_done:
                self._reading = False
                if read:
                    self._last_read = (began, value)
                self._read_done.notify_all()
        return value


def unauthenticated_principal(name: str) -> Principal:
    """Someone who claimed to be ``name`` but is not a known, active user: may do nothing.

    Faces use it to audit a refused call under the name that was claimed.
    """
    return Principal(name=name, role="unauthenticated", permissions=ToolPermissions())


def system_principal(name: str = "system") -> Principal:
    """An in-process super admin principal not backed by a user row (tests, maintenance)."""
    return Principal(name=name, role=SUPER_ADMIN, permissions=role_defaults(SUPER_ADMIN))


__all__ = [
    "ANY",
    "TOKEN_PREFIX",
    "Principal",
    "TokenAuthenticator",
    "authenticate_token",
    "hash_token",
    "load_principal",
    "new_token",
    "permissions_for",
    "system_principal",
    "unauthenticated_principal",
]
