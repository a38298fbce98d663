"""The hash-chained audit log: tamper evidence, concurrency on both databases, redaction."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from masterai.audit import GENESIS_HASH, AuditEntry, AuditLog, MemoryCheckpoints, MemoryKeys
from masterai.security import REDACTED
from masterai.store import Database
from masterai.store.models import utcnow


def fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(
            AuditEntry(
                tool="clock",
                operation="get_time",
                params={"i": i},
                status="ok",
                user_name="alice" if i % 2 else "bob",
                company_id="acme" if i < 3 else "globex",
                duration_ms=1.5 + i,
            )
        )


def test_an_untouched_chain_verifies_and_links_from_genesis(database: Database) -> None:
    log = AuditLog(database)
    assert log.verify().ok and log.verify().checked == 0
    fill(log, 5)
    report = log.verify()
    assert (report.ok, report.checked, report.first_broken_id) == (True, 5, None)
    first, second = log.recent(5)[:2]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert log.head() == (5, log.recent(1)[0].hash)


@pytest.mark.parametrize(
    ("tamper", "broken", "reason"),
    [
        ("UPDATE audit_log SET status = 'denied' WHERE id = 3", 3, "record 3 was modified"),
        ("UPDATE audit_log SET params = '{\"i\": 99}' WHERE id = 4", 4, "record 4 was modified"),
        ("DELETE FROM audit_log WHERE id = 2", 2, "record 2 is missing"),
        # reorder: records 2 and 3 swap places
        (
            "UPDATE audit_log SET id = CASE id WHEN 2 THEN -3 WHEN 3 THEN -2 END "
            "WHERE id IN (2, 3); UPDATE audit_log SET id = -id WHERE id < 0",
            2,
            "record 2",
        ),
        # a forged record whose own hash is recomputed still breaks the next link
        ("UPDATE audit_log SET hash = :forged WHERE id = 3", 3, "record 3 was modified"),
    ],
)
def test_verify_names_the_first_changed_deleted_or_reordered_record(
    database: Database, tamper: str, broken: int, reason: str
) -> None:
    log = AuditLog(database)
    fill(log, 6)
    with database.engine.begin() as conn:
        for statement in tamper.split("; "):
            conn.execute(text(statement), {"forged": "f" * 64} if ":forged" in statement else {})
    report = log.verify()
    assert report.ok is False
    assert report.first_broken_id == broken
    assert reason in (report.reason or "")


def test_recomputing_a_changed_records_hash_with_the_key_breaks_the_next_link(
    database: Database,
) -> None:
    # even someone holding the key cannot change one record without rewriting the rest
    from masterai.audit import record_hash
    from masterai.store.models import AuditRecord

    log = AuditLog(database)
    fill(log, 4)
    with database.session() as s:
        record = s.get(AuditRecord, 2)
        assert record is not None
        record.status = "denied"
        record.hash = record_hash(record, log.ensure_key())
    report = log.verify()
    assert report.first_broken_id == 3
    assert "does not link to record 2" in (report.reason or "")


def test_concurrent_appenders_with_separate_engines_never_fork_the_chain(
    database: Database,
) -> None:
    # Two Database objects = two connection pools and two AuditLog locks: only the database's
    # own locking (BEGIN IMMEDIATE / advisory lock) keeps the ids and links consistent. They
    # share the key and the checkpoint, as two processes of one installation do.
    other = Database(database.url)
    keys, checkpoints = MemoryKeys(), [MemoryCheckpoints()]
    logs = [
        AuditLog(database, keys=keys, checkpoints=checkpoints),
        AuditLog(other, keys=keys, checkpoints=checkpoints),
    ]
    errors: list[BaseException] = []

    def work(log: AuditLog) -> None:
        try:
            fill(log, 25)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(logs[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    other.dispose()
    assert errors == []
    report = logs[0].verify()
    assert (report.ok, report.checked, report.checkpoint_last_id) == (True, 100, 100)


def test_secrets_are_redacted_and_long_text_clipped_before_storage(database: Database) -> None:
    log = AuditLog(database, max_params_bytes=10_000)
    record = log.append(
        AuditEntry(
            tool="integration",
            status="failed",
            params={
                "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "json"},
                "password": "hunter2",
                "items": [{"client_secret": "s3"}, "token mai_abcdefghijklmnopqrstuv"],
                "webhook": "custom-value",
                "dsn": "postgresql://app:pw@db/prod",
            },
            sensitive_keys=frozenset({"webhook"}),
            error="call failed with key sk-abcdefghijklmnop " + "x" * 5000,
        )
    )
    assert record.params == {
        "headers": {"Authorization": REDACTED, "Accept": "json"},
        "password": REDACTED,
        "items": [{"client_secret": REDACTED}, f"token {REDACTED}"],
        "webhook": REDACTED,
        "dsn": f"postgresql://app:{REDACTED}@db/prod",
    }
    assert record.error is not None
    assert "sk-abc" not in record.error
    assert record.error.endswith("... [5041 chars]")  # length as given
    assert len(record.error) < 2100
    assert log.verify().ok


def test_a_secret_at_the_clipping_edge_is_redacted_not_cut(database: Database) -> None:
    secret = "sk-" + "a" * 40
    record = AuditLog(database).append(
        AuditEntry(tool="x", status="ok", result_summary="y" * 1989 + " " + secret + "z" * 100_000)
    )
    summary = record.result_summary or ""
    assert "sk-" not in summary and "aaaa" not in summary
    assert summary.endswith("... [102033 chars]")
    assert len(summary) < 2100


def test_search_filters_by_tool_user_company_and_time(database: Database) -> None:
    log = AuditLog(database)
    fill(log, 6)
    log.append(AuditEntry(tool="filesystem", status="denied", user_name="alice"))
    assert [r.id for r in log.search(tool="filesystem")] == [7]
    assert [r.id for r in log.search(user="alice", company="acme")] == [2]
    assert [r.id for r in log.search(status="denied")] == [7]
    assert len(log.search(since=utcnow() - timedelta(minutes=5))) == 7
    assert log.search(since=utcnow() + timedelta(minutes=5)) == []
    assert [r.id for r in log.search(limit=2)] == [6, 7]


def test_an_unknown_status_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="Invalid audit status 'weird'"):
        AuditLog(database).append(AuditEntry(tool="x", status="weird"))
    assert AuditLog(database).count() == 0
