"""Users, API tokens (hashes only), roles, company access and per-user permission grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from masterai.store.models.base import Base, UTCDateTime, flag, json_object, timestamp_now


class Role(Base):
    """A role name (``super_admin``, ``admin``, ``analyst``, ``viewer``, or a custom one).

    The built-in roles' default permissions live in code (``masterai.security``);
    ``permissions`` holds overrides of those defaults for this role.
    """

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    permissions: Mapped[dict[str, Any]] = json_object()
    built_in: Mapped[bool] = flag()
    created_at: Mapped[datetime] = timestamp_now()


class User(Base):
    """A person (or service account) who acts through the registry."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    email: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"), nullable=False)
    is_active: Mapped[bool] = flag(True)
    created_at: Mapped[datetime] = timestamp_now()
    created_by: Mapped[str | None] = mapped_column(Text)

    companies: Mapped[list[UserCompany]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    grants: Mapped[list[PermissionGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class ApiToken(Base):
    """An API token of a user. Only the SHA-256 of the secret is stored, never the secret."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    """Hex SHA-256 of the full token."""
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    """The token's first characters, shown in listings so a user can tell tokens apart."""
    created_at: Mapped[datetime] = timestamp_now()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_approve: Mapped[bool] = flag()
    """A request with this token may approve its own call (``?approve=true``); off by default."""


class UserCompany(Base):
    """A company a user may act on, with ``read`` or ``write`` access."""

    __tablename__ = "user_companies"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    access: Mapped[str] = mapped_column(String(8), nullable=False, default="read")
    """``read`` or ``write`` (write implies read)."""
    created_at: Mapped[datetime] = timestamp_now()

    user: Mapped[User] = relationship(back_populates="companies")


class PermissionGrant(Base):
    """A per-user override of one ``ToolPermissions`` field, e.g. ``code_execution.languages``."""

    __tablename__ = "permission_grants"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key: Mapped[str] = mapped_column(String(128), nullable=False)
    """Dotted ``ToolPermissions`` field, e.g. ``data_access.sensitive_data``."""
    value: Mapped[Any] = mapped_column(JSON, nullable=False)
    granted_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()

    user: Mapped[User] = relationship(back_populates="grants")


class SecurityGeneration(Base):
    """One row counting changes to who may do what, kept by database triggers (migration 0014).

    Every insert, update or delete of users, roles, company links, grants and API tokens
    (except a token's ``last_used_at``) adds one, whoever writes it. A process may keep the
    principals it authenticated while the count stays the same
    (:class:`masterai.security.TokenAuthenticator`).
    """

    __tablename__ = "security_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
