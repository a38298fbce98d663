"""Principals (users, API tokens), token hashing, and resolving a principal's permissions.

Permissions are built in layers: the role's defaults (:mod:`masterai.security.roles`), the
role row's ``permissions`` overrides, the user's companies (``user_companies``), then the
user's own ``permission_grants``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

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
from masterai.store.models import ApiToken, Role, User, utcnow

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

    The check only reads; the last-use write, when due, is its own short transaction that
    takes the write lock first, so concurrent requests wait for each other instead of failing
    on SQLite's lock upgrade.

    Raises:
        AuthenticationError: unknown, revoked or expired token, or inactive user.
    """
    with database.session() as s:
        row = s.scalars(
            select(ApiToken).where(ApiToken.token_hash == hash_token(token))
        ).one_or_none()
        now = utcnow()
        if row is None or row.revoked_at is not None:
            raise AuthenticationError("Invalid or revoked API token")
        if row.expires_at is not None and row.expires_at <= now:
            raise AuthenticationError(f"API token {row.prefix}... expired at {row.expires_at}")
        user = s.get(User, row.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("The API token's user is deactivated")
        principal = _principal(user, s.get(Role, user.role), token_id=row.id)
        stale = row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION
        token_id = row.id
    if stale:
        with database.session(immediate=True) as s:
            s.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return principal


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
    "authenticate_token",
    "hash_token",
    "load_principal",
    "new_token",
    "permissions_for",
    "system_principal",
    "unauthenticated_principal",
]
