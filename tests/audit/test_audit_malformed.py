"""Malformed stored rows, written with raw SQL: reported as broken, shown marked, never raised."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from masterai.audit import AuditEntry, AuditLog, Break, MemoryCheckpoints, MemoryKeys
from masterai.store import Database

# (what is wrong, the statement per dialect, what the report says about record 3)
CASES: dict[str, tuple[dict[str, str], str]] = {
    "params-not-json": (
        {"sqlite": "UPDATE audit_log SET params = '{\"i\": ' WHERE id = 3"},
        "params is not valid JSON: '{\"i\": '",
    ),
    "params-not-a-finite-number": (
        {"sqlite": "UPDATE audit_log SET params = '{\"i\": NaN}' WHERE id = 3"},
        "params is not storable JSON (Out of range float values are not JSON compliant",
    ),
    "params-json-null": (
        {"any": "UPDATE audit_log SET params = 'null' WHERE id = 3"},
        "params is NULL but must have a value",
    ),
    "timestamp-not-a-timestamp": (
        {"sqlite": "UPDATE audit_log SET created_at = 'yesterday at noon' WHERE id = 3"},
        "created_at is not a timestamp: 'yesterday at noon'",
    ),
    "text-not-utf8": (
        {"sqlite": "UPDATE audit_log SET user_name = CAST(X'C328FF' AS TEXT) WHERE id = 3"},
        "user_name is not valid UTF-8 text: b'\\xc3(\\xff'",
    ),
    "duration-not-a-number": (
        {"sqlite": "UPDATE audit_log SET duration_ms = 'fast' WHERE id = 3"},
        "duration_ms is not a finite number: 'fast'",
    ),
    "duration-infinite": (
        {
            "sqlite": "UPDATE audit_log SET duration_ms = 9e999 WHERE id = 3",
            "postgresql": "UPDATE audit_log SET duration_ms = 'Infinity' WHERE id = 3",
        },
        "duration_ms is not a finite number: inf",
    ),
    "companies-not-json": (
        {"any": "UPDATE audit_log SET company_ids = '[\"acme\", ' WHERE id = 3"},
        "company_ids is not a JSON list of company ids",
    ),
    "status-unknown": (
        {"any": "UPDATE audit_log SET status = 'weird' WHERE id = 3"},
        "status is not a known status: 'weird'",
    ),
    "hash-not-hex": (
        {"any": "UPDATE audit_log SET hash = 'not-a-hash' WHERE id = 3"},
        "hash is not a 64-digit hex hash: 'not-a-hash'",
    ),
    "epoch-zero": (
        {"any": "UPDATE audit_log SET key_epoch = 0 WHERE id = 3"},
        "key_epoch is not an epoch: 0",
    ),
    "tool-null": (
        {"any": "UPDATE audit_log SET tool = NULL WHERE id = 3"},
        "tool is NULL but must have a value",
    ),
    "time-null": (
        {"any": "UPDATE audit_log SET created_at = NULL WHERE id = 3"},
        "created_at is NULL but must have a value",
    ),
    "hash-null": (
        {"any": "UPDATE audit_log SET hash = NULL WHERE id = 3"},
        "hash is NULL but must have a value",
    ),
}
NULLABLE = ("tool", "created_at", "hash")


@pytest.fixture
def nullable(database: Database) -> Iterator[None]:
    """Let a few NOT NULL columns hold NULL, as the database's owner can."""
    if database.dialect == "postgresql":
        with database.engine.begin() as conn:
            for column in NULLABLE:
                conn.execute(text(f"ALTER TABLE audit_log ALTER COLUMN {column} DROP NOT NULL"))
        yield
        with database.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
            for column in NULLABLE:
                conn.execute(text(f"ALTER TABLE audit_log ALTER COLUMN {column} SET NOT NULL"))
    else:  # SQLite cannot drop a constraint: the table is copied without any
        with database.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_strict"))
            conn.execute(text("CREATE TABLE audit_log AS SELECT * FROM audit_log_strict"))
            conn.execute(text("DROP TABLE audit_log_strict"))
        yield


def damage(database: Database, case: str) -> str:
    """Apply ``case`` to record 3 (skipping where the database's types refuse it)."""
    statements, expected = CASES[case]
    statement = statements.get(database.dialect) or statements.get("any")
    if statement is None:
        pytest.skip(f"{database.dialect} refuses this value in its column type")
    with database.engine.begin() as conn:
        conn.execute(text(statement))
    return expected


@pytest.fixture
def log(database: Database, nullable: None) -> AuditLog:
    log = AuditLog(database, keys=MemoryKeys(), checkpoints=[MemoryCheckpoints()])
    for i in range(5):
        log.append(
            AuditEntry(
                tool="clock",
                operation="get_time",
                params={"i": i},
                status="ok",
                user_name="ann",
                company_ids=("acme", "globex"),
            )
        )
    return log


@pytest.mark.parametrize("case", CASES)
def test_verify_reports_a_malformed_row_as_broken_at_that_record(
    database: Database, log: AuditLog, case: str
) -> None:
    expected = damage(database, case)
    report = log.verify()
    assert (report.ok, report.first_broken_id, report.problem, report.checked) == (
        False,
        3,
        Break.MALFORMED,
        2,
    )
    assert (report.reason or "").startswith("record 3 is malformed: ")
    assert expected in (report.reason or "")


@pytest.mark.parametrize("case", CASES)
def test_tail_and_search_return_a_malformed_row_marked(
    database: Database, log: AuditLog, case: str
) -> None:
    expected = damage(database, case)
    for records in (log.recent(10), log.search(limit=10)):
        assert [r.id for r in records] == [1, 2, 3, 4, 5]
        assert [bool(r.problems) for r in records] == [False, False, True, False, False]
        assert any(expected in problem for problem in records[2].problems)


def test_search_filters_still_find_a_malformed_row(database: Database, log: AuditLog) -> None:
    damage(database, "params-json-null")
    (found,) = log.search(user="ann", tool="clock", status="ok", company="globex", limit=1)
    assert found.id == 5
    assert [r.id for r in log.search(user="ann", limit=3)] == [3, 4, 5]
    assert log.search(user="ann", limit=3)[0].problems == ("params is NULL but must have a value",)


def test_appending_after_a_malformed_newest_row_still_works(
    database: Database, log: AuditLog
) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET hash = NULL WHERE id = 5"))
    record = log.append(AuditEntry(tool="clock", status="ok"))
    assert (record.id, record.prev_hash) == (6, "")
    assert (log.verify().first_broken_id, log.verify().problem) == (5, Break.MALFORMED)
