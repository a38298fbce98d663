"""Users, companies, grants and API tokens in the store; principals built from them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from masterai.security import (
    AuthenticationError,
    DirectoryError,
    UserDirectory,
    authenticate_token,
    hash_token,
    load_principal,
)
from masterai.store import Database
from masterai.store.models import ApiToken, Role, utcnow


@pytest.fixture
def directory(database: Database) -> UserDirectory:
    directory = UserDirectory(database)
    directory.add_company("acme", "Acme")
    directory.add_company("globex", "Globex")
    return directory


def test_a_principal_combines_role_defaults_companies_and_grants(
    directory: UserDirectory, database: Database
) -> None:
    directory.add_user("ann", "admin", companies={"acme": "write", "globex": "read"})
    directory.set_grant("ann", "data_access.sensitive_data", True)
    directory.set_grant("ann", "code_execution.languages", ["python"])
    ann = load_principal(database, "ann")
    data = ann.permissions.data_access
    assert (data.can_write("acme"), data.can_write("globex"), data.can_read("globex")) == (
        True,
        False,
        True,
    )
    assert data.sensitive_data is True
    assert ann.permissions.code_execution.languages == frozenset({"python"})
    assert ann.permissions.tool_access("code") == "write"
    directory.set_grant("ann", "code_execution.languages", None)
    assert "r" in load_principal(database, "ann").permissions.code_execution.languages


def test_role_rows_can_override_built_in_defaults(
    directory: UserDirectory, database: Database
) -> None:
    with database.session() as s:
        role = s.get(Role, "viewer")
        assert role is not None
        role.permissions = {"tools.clock": "none"}
    directory.add_user("vic", "viewer")
    assert load_principal(database, "vic").permissions.tool_access("clock") == "none"


def test_tokens_are_shown_once_and_stored_only_as_hashes(
    directory: UserDirectory, database: Database
) -> None:
    directory.add_user("ann", "analyst")
    issued = directory.create_token("ann", token_name="ci")
    assert issued.token.startswith("mai_") and len(issued.token) > 40
    with database.session() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == hash_token(issued.token)
        assert issued.token not in (row.token_hash, row.prefix, row.name)
    principal = authenticate_token(database, issued.token)
    assert (principal.name, principal.token_id) == ("ann", issued.id)
    with database.session() as s:
        assert s.scalars(select(ApiToken.last_used_at)).one() is not None


def test_bad_revoked_and_expired_tokens_and_inactive_users_are_refused(
    directory: UserDirectory, database: Database
) -> None:
    directory.add_user("ann", "analyst")
    with pytest.raises(AuthenticationError, match="Invalid or revoked"):
        authenticate_token(database, "mai_nope")
    expired = directory.create_token("ann", expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate_token(database, expired.token)
    revoked = directory.create_token("ann")
    with database.session() as s:
        row = s.get(ApiToken, revoked.id)
        assert row is not None
        row.revoked_at = utcnow()
    with pytest.raises(AuthenticationError, match="Invalid or revoked"):
        authenticate_token(database, revoked.token)
    live = directory.create_token("ann")
    directory.set_active("ann", False)
    with pytest.raises(AuthenticationError, match="deactivated"):
        authenticate_token(database, live.token)
    with pytest.raises(AuthenticationError, match="User 'ann' is deactivated"):
        load_principal(database, "ann")
    with pytest.raises(AuthenticationError, match="Unknown user 'bob'"):
        load_principal(database, "bob")


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda d: d.add_company("Bad Id", "x"), "Invalid company id 'Bad Id'"),
        (lambda d: d.add_company("acme", "again"), "Company 'acme' already exists"),
        (lambda d: d.add_company("new", "  "), "Invalid company name '  '"),
        (lambda d: d.add_user("ann", "wizard"), "Unknown role 'wizard'. Roles: admin, analyst"),
        (lambda d: d.add_user("-x", "viewer"), "Invalid user name '-x'"),
        (
            lambda d: d.add_user("ann", "viewer", email="ann at acme"),
            "Invalid e-mail address 'ann at acme': expected name@domain.tld",
        ),
        (lambda d: d.add_user("ann", "viewer", companies={"nope": "read"}), "Unknown company"),
        (lambda d: d.add_user("ann", "viewer", companies={"acme": "all"}), "Invalid access"),
        (lambda d: d.grant_company("zed", "acme", "read"), "Unknown user 'zed'"),
        (lambda d: d.set_grant("zed", "tools.code", "nah"), "tools.code must be one of"),
    ],
)
def test_directory_rejects_bad_input_and_leaves_nothing_behind(
    directory: UserDirectory, action: object, message: str
) -> None:
    with pytest.raises(DirectoryError, match=message):
        action(directory)  # type: ignore[operator]
    assert directory.list_users() == []
    assert [c.id for c in directory.list_companies()] == ["acme", "globex"]


@pytest.mark.parametrize(
    "change",
    [
        {"companies": {"globex": "write"}, "grants": [("tools.code", "maybe")]},
        {"companies": {"nope": "read"}},
        {"revoke": ["globex"]},
        {"grants": [("tools.clock", "none"), ("unknown.key", 1)]},
        {"role": "wizard", "grants": [("tools.clock", "none")]},
    ],
)
def test_update_user_applies_all_changes_or_none(
    directory: UserDirectory, change: dict[str, Any]
) -> None:
    directory.add_user("ann", "viewer", companies={"acme": "read"})
    before = directory.get_user("ann")
    with pytest.raises(DirectoryError):
        directory.update_user("ann", **({"role": "admin"} | change))
    after = directory.get_user("ann")
    assert (after.role, after.companies, after.grants) == ("viewer", {"acme": "read"}, {})
    assert after == before


def test_update_user_changes_role_companies_and_grants_together(
    directory: UserDirectory,
) -> None:
    directory.add_user("ann", "viewer", companies={"acme": "read"}, email="ann@acme.test")
    directory.set_grant("ann", "tools.clock", "none")
    user = directory.update_user(
        "ann",
        role="admin",
        companies={"globex": "write"},
        revoke=["acme"],
        grants=[("tools.clock", None), ("tools.code", "read")],
    )
    assert (user.role, user.companies, user.grants) == (
        "admin",
        {"globex": "write"},
        {"tools.code": "read"},
    )


def test_duplicate_users_are_refused(directory: UserDirectory) -> None:
    directory.add_user("ann", "viewer")
    with pytest.raises(DirectoryError, match="User 'ann' already exists"):
        directory.add_user("ann", "admin")
    assert [u.role for u in directory.list_users()] == ["viewer"]


def test_company_access_can_be_changed_and_revoked(directory: UserDirectory) -> None:
    directory.add_user("ann", "admin", companies={"acme": "read"})
    assert directory.grant_company("ann", "acme", "write").companies == {"acme": "write"}
    assert directory.revoke_company("ann", "acme").companies == {}
    with pytest.raises(DirectoryError, match="has no access to company 'acme'"):
        directory.revoke_company("ann", "acme")
