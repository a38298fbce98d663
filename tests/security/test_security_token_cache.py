"""``TokenAuthenticator``: principals kept while the security generation stays the same.

Every change that could alter who may do what — written by the directory or by plain SQL
from another connection — is seen by the next request; a request that finds its token in
the cache costs one small read. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text

from masterai.security import AuthenticationError, TokenAuthenticator, UserDirectory
from masterai.store import Database
from masterai.store.models import ApiToken, SecurityGeneration, utcnow


@pytest.fixture
def directory(database: Database) -> UserDirectory:
    directory = UserDirectory(database)
    directory.add_company("acme", "Acme")
    directory.add_user("ann", "analyst", companies={"acme": "read"})
    return directory


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN":  # SQLite's explicit transaction start
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def generation(database: Database) -> int:
    with database.session() as s:
        return int(s.scalars(select(SecurityGeneration.value)).one())


def sql(database: Database, statement: str, **values: Any) -> None:
    """A change made behind the platform's back, on a connection of its own."""
    with database.engine.begin() as conn:
        conn.execute(text(statement), values)


def test_a_known_token_costs_one_read_and_its_last_use_moves_nothing(
    directory: UserDirectory, database: Database
) -> None:
    token = directory.create_token("ann").token
    tokens = TokenAuthenticator(database)
    first = tokens.authenticate(token)  # loads the principal, records the last use
    before = generation(database)
    with statements(database) as seen:
        again = tokens.authenticate(token)

    assert again == first and again.name == "ann"
    assert len(seen) == 1 and "security_generation" in seen[0], seen
    assert generation(database) == before  # writing last_used_at is not a change


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP", "Invalid or revoked"),
        ("UPDATE users SET is_active = false", "deactivated"),
        ("DELETE FROM api_tokens", "Invalid or revoked"),
    ],
)
def test_a_change_made_elsewhere_refuses_the_next_request(
    directory: UserDirectory, database: Database, change: str, refusal: str
) -> None:
    token = directory.create_token("ann").token
    tokens = TokenAuthenticator(database)
    tokens.authenticate(token)
    sql(database, change)

    with pytest.raises(AuthenticationError, match=refusal):
        tokens.authenticate(token)


def test_role_company_and_grant_changes_reach_the_cached_principal(
    directory: UserDirectory, database: Database
) -> None:
    token = directory.create_token("ann").token
    tokens = TokenAuthenticator(database)
    assert tokens.authenticate(token).role == "analyst"
    directory.set_role("ann", "admin")
    assert tokens.authenticate(token).role == "admin"
    assert tokens.authenticate(token).permissions.data_access.can_read("acme")
    sql(database, "DELETE FROM companies WHERE id = 'acme'")  # the link goes by cascade
    assert not tokens.authenticate(token).permissions.data_access.can_read("acme")
    directory.set_grant("ann", "data_access.sensitive_data", True)
    assert tokens.authenticate(token).permissions.data_access.sensitive_data is True


def test_expiry_is_checked_on_every_request(directory: UserDirectory, database: Database) -> None:
    token = directory.create_token("ann", expires_at=utcnow() + timedelta(hours=1))
    tokens = TokenAuthenticator(database)
    tokens.authenticate(token.token)
    with database.session() as s:  # the clock moves past the expiry: simulated by the row
        row = s.get(ApiToken, token.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)

    with pytest.raises(AuthenticationError, match="expired"):
        tokens.authenticate(token.token)


def test_requests_arriving_together_share_reads_and_all_see_a_prior_revocation(
    directory: UserDirectory, database: Database
) -> None:
    token = directory.create_token("ann").token
    tokens = TokenAuthenticator(database)
    tokens.authenticate(token)
    sql(database, "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP")
    start = threading.Barrier(16)
    refused: list[bool] = []

    def request() -> None:
        start.wait()
        try:
            tokens.authenticate(token)
        except AuthenticationError:
            refused.append(True)
        else:
            refused.append(False)

    with statements(database) as seen:
        threads = [threading.Thread(target=request) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert refused == [True] * 16
    reads = [s for s in seen if "security_generation" in s]
    assert 1 <= len(reads) < 16


def test_without_the_generation_row_every_request_reads_the_principal(
    directory: UserDirectory, database: Database
) -> None:
    """Nothing could tell the cache about a change then: it is not used, and nothing fails."""
    token = directory.create_token("ann").token
    tokens = TokenAuthenticator(database)
    tokens.authenticate(token)
    sql(database, "DELETE FROM security_generation")
    assert tokens.authenticate(token).name == "ann"
    sql(database, "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP")

    with pytest.raises(AuthenticationError, match="Invalid or revoked"):
        tokens.authenticate(token)
