"""Managing users, companies, company access, permission grants and API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from masterai.security.errors import DirectoryError, PermissionSpecError
from masterai.security.permissions import ToolPermissions, apply_override
from masterai.security.principals import hash_token, new_token
from masterai.store import Database
from masterai.store.models import (
    ApiToken,
    Company,
    PermissionGrant,
    Role,
    User,
    UserCompany,
    utcnow,
)

COMPANY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""The company id rule (matched as a whole string): see :func:`is_company_id`."""
COMPANY_ID_RULE = "1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
ACCESS = ("read", "write")


def is_company_id(value: object) -> bool:
    """Whether ``value`` is a valid company id: the one rule for every place that takes one.

    Lowercase letters, digits, ``-`` and ``_`` (1-64, starting with a letter or digit): no
    whitespace, no path or wildcard characters, so an id is safe as a path component and can
    never be the wildcard ``*`` that grants every company.
    """
    return isinstance(value, str) and COMPANY_ID.fullmatch(value) is not None


@dataclass(frozen=True, kw_only=True)
class UserInfo:
    """A user as listed by :meth:`UserDirectory.list_users`."""

    id: int
    name: str
    role: str
    email: str | None
    is_active: bool
    companies: dict[str, str]
    """Company id -> ``read`` / ``write``."""
    grants: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class CompanyInfo:
    """A company as listed by :meth:`UserDirectory.list_companies`."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    """A new API token. ``token`` is the only copy of the secret: show it once."""

    id: int
    user: str
    name: str
    token: str
    prefix: str


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    """An API token as listed (its secret is never stored, only its first characters)."""

    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    auto_approve: bool = False


def _token_info(user: str, row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=user,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        auto_approve=row.auto_approve,
    )


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        name=user.name,
        role=user.role,
        email=user.email,
        is_active=user.is_active,
        companies={c.company_id: c.access for c in user.companies},
        grants={g.key: g.value for g in user.grants},
        created_at=user.created_at,
    )


class UserDirectory:
    """Users, companies and their links, over a :class:`~masterai.store.Database`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # --- companies -----------------------------------------------------------------

    def add_company(self, company_id: str, name: str) -> CompanyInfo:
        """Create a company.

        Raises:
            DirectoryError: malformed id, empty name, or the id is taken.
        """
        if not is_company_id(company_id):
            raise DirectoryError(f"Invalid company id {company_id!r}: use {COMPANY_ID_RULE}")
        if not name.strip():
            raise DirectoryError(f"Invalid company name {name!r}: must not be empty")
        try:
            with self.database.session() as s:
                company = Company(id=company_id, name=name.strip())
                s.add(company)
                s.flush()
                return CompanyInfo(id=company.id, name=company.name, created_at=company.created_at)
        except IntegrityError as e:
            raise DirectoryError(f"Company {company_id!r} already exists") from e

    def list_companies(self) -> list[CompanyInfo]:
        """Every company, by id."""
        with self.database.session() as s:
            return [
                CompanyInfo(id=c.id, name=c.name, created_at=c.created_at)
                for c in s.scalars(select(Company).order_by(Company.id))
            ]

    # --- users ---------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        *,
        email: str | None = None,
        companies: dict[str, str] | None = None,
        created_by: str | None = None,
    ) -> UserInfo:
        """Create a user with a role and optional company access.

        Raises:
            DirectoryError: malformed name or e-mail, unknown role or company, or the name
                is taken.
        """
        if not USER_NAME.match(name):
            raise DirectoryError(
                f"Invalid user name {name!r}: use 1-128 letters, digits or '_.@-', "
                "starting with a letter or digit"
            )
        if email is not None and (len(email) > 254 or not EMAIL.match(email)):
            raise DirectoryError(f"Invalid e-mail address {email!r}: expected name@domain.tld")
        with self.database.session() as s:
            if s.scalars(select(User).where(User.name == name)).first() is not None:
                raise DirectoryError(f"User {name!r} already exists")
            self._check_role(s, role)
            user = User(name=name, role=role, email=email, created_by=created_by)
            s.add(user)
            s.flush()
            for company_id, access in (companies or {}).items():
                self._link(s, user, company_id, access)
            s.flush()
            s.refresh(user)
            return _user_info(user)

    def get_user(self, name: str) -> UserInfo:
        """One user by name.

        Raises:
            DirectoryError: no such user.
        """
        with self.database.session() as s:
            return _user_info(self._user(s, name))

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self.database.session() as s:
            return [_user_info(u) for u in s.scalars(select(User).order_by(User.name))]

    def set_role(self, name: str, role: str) -> UserInfo:
        """Change a user's role."""
        with self.database.session() as s:
            user = self._user(s, name)
            self._check_role(s, role)
            user.role = role
            s.flush()
            return _user_info(user)

    def set_active(self, name: str, active: bool) -> UserInfo:
        """Activate or deactivate a user (deactivated users cannot act)."""
        with self.database.session() as s:
            user = self._user(s, name)
            user.is_active = active
            s.flush()
            return _user_info(user)

    def grant_company(self, name: str, company_id: str, access: str) -> UserInfo:
        """Give a user ``read`` or ``write`` access to a company (replacing earlier access)."""
        with self.database.session() as s:
            user = self._user(s, name)
            self._link(s, user, company_id, access)
            s.flush()
            s.refresh(user)
            return _user_info(user)

    def revoke_company(self, name: str, company_id: str) -> UserInfo:
        """Remove a user's access to a company."""
        with self.database.session() as s:
            user = self._user(s, name)
            self._unlink(s, user, company_id)
            s.flush()
            s.refresh(user)
            return _user_info(user)

    def set_grant(
        self, name: str, key: str, value: Any, *, granted_by: str | None = None
    ) -> UserInfo:
        """Override one ``ToolPermissions`` field for a user (``value=None`` removes it).

        Raises:
            DirectoryError: unknown user, or the key/value is not a valid override.
        """
        self._check_override(key, value)
        with self.database.session() as s:
            user = self._user(s, name)
            self._grant(user, key, value, granted_by)
            s.flush()
            s.refresh(user)
            return _user_info(user)

    def update_user(
        self,
        name: str,
        *,
        role: str | None = None,
        companies: dict[str, str] | None = None,
        revoke: list[str] | None = None,
        grants: list[tuple[str, Any]] | None = None,
        granted_by: str | None = None,
        active: bool | None = None,
    ) -> UserInfo:
        """Change role, company access, revocations, overrides and active state at once.

        ``companies`` maps company ids to ``read`` / ``write``.

        All changes are applied in one transaction: if any is invalid, none is kept.

        Raises:
            DirectoryError: unknown user, role or company, or an invalid access or override.
        """
        with self.database.session() as s:
            user = self._user(s, name)
            if role is not None:
                self._check_role(s, role)
                user.role = role
            if active is not None:
                user.is_active = active
            for company_id, access in (companies or {}).items():
                self._link(s, user, company_id, access)
            s.flush()
            for company_id in revoke or []:
                self._unlink(s, user, company_id)
            for key, value in grants or []:
                self._grant(user, key, value, granted_by)
            s.flush()
            s.refresh(user)
            return _user_info(user)

    # --- tokens --------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        *,
        token_name: str = "default",
        expires_at: datetime | None = None,
        auto_approve: bool = False,
    ) -> IssuedToken:
        """Issue an API token for a user; only its hash is stored.

        Args:
            name: the user.
            token_name: a label shown in listings.
            expires_at: when it stops working (never by default).
            auto_approve: requests with it may approve their own calls (``?approve=true``).
        """
        token = new_token()
        with self.database.session() as s:
            user = self._user(s, name)
            row = ApiToken(
                user_id=user.id,
                name=token_name,
                token_hash=hash_token(token),
                prefix=token[:12],
                expires_at=expires_at,
                auto_approve=auto_approve,
            )
            s.add(row)
            s.flush()
            return IssuedToken(
                id=row.id, user=name, name=token_name, token=token, prefix=row.prefix
            )

    def list_tokens(self, name: str) -> list[TokenInfo]:
        """A user's API tokens (never their secrets), oldest first."""
        with self.database.session() as s:
            user = self._user(s, name)
            rows = s.scalars(
                select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
            )
            return [_token_info(name, row) for row in rows]

    def revoke_token(self, name: str, token_id: int) -> TokenInfo:
        """Revoke one of a user's API tokens (it stops authenticating at once).

        Raises:
            DirectoryError: unknown user, or the user has no such token.
        """
        with self.database.session() as s:
            user = self._user(s, name)
            row = s.get(ApiToken, token_id)
            if row is None or row.user_id != user.id:
                raise DirectoryError(f"User {name!r} has no token {token_id!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            s.flush()
            return _token_info(name, row)

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    def _user(s: Any, name: str) -> User:
        user: User | None = s.scalars(select(User).where(User.name == name)).one_or_none()
        if user is None:
            raise DirectoryError(f"Unknown user {name!r}")
        return user

    @staticmethod
    def _check_role(s: Any, role: str) -> None:
        if s.get(Role, role) is None:
            known = ", ".join(s.scalars(select(Role.name).order_by(Role.name)))
            raise DirectoryError(f"Unknown role {role!r}. Roles: {known}")

    @staticmethod
    def _unlink(s: Any, user: User, company_id: str) -> None:
        link = s.get(UserCompany, (user.id, company_id))
        if link is None:
            raise DirectoryError(f"User {user.name!r} has no access to company {company_id!r}")
        s.delete(link)

    @staticmethod
    def _check_override(key: str, value: Any) -> None:
        if value is not None:
            try:
                apply_override(ToolPermissions(), key, value)
            except PermissionSpecError as e:
                raise DirectoryError(str(e)) from e

    @classmethod
    def _grant(cls, user: User, key: str, value: Any, granted_by: str | None) -> None:
        cls._check_override(key, value)
        existing = next((g for g in user.grants if g.key == key), None)
        if value is None:
            if existing is None:
                raise DirectoryError(f"User {user.name!r} has no grant {key!r}")
            user.grants.remove(existing)
        elif existing is None:
            user.grants.append(PermissionGrant(key=key, value=value, granted_by=granted_by))
        else:
            existing.value = value
            existing.granted_by = granted_by

    @staticmethod
    def _link(s: Any, user: User, company_id: str, access: str) -> None:
        if access not in ACCESS:
            raise DirectoryError(f"Invalid access {access!r}: use read or write")
        if not is_company_id(company_id):
            # A row with such an id (imported before the rule held everywhere) is never
            # linked: '*' would read as "every company".
            raise DirectoryError(f"Invalid company id {company_id!r}: use {COMPANY_ID_RULE}")
        if s.get(Company, company_id) is None:
            raise DirectoryError(f"Unknown company {company_id!r}")
        link = s.get(UserCompany, (user.id, company_id))
        if link is None:
            s.add(UserCompany(user_id=user.id, company_id=company_id, access=access))
        else:
            link.access = access
