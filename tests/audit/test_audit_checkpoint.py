"""Signed checkpoints: the chain's head kept outside the database catches deleted records."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from masterai.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditLog,
    Break,
    Checkpoint,
    CheckpointFile,
    CheckpointStore,
    Keyring,
    MemoryCheckpoints,
    canonical,
)
from masterai.settings import AuditSettings
from masterai.store import Database
from masterai.store.models import AuditRecord


def fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(AuditEntry(tool="clock", operation="get_time", params={"i": i}, status="ok"))


def delete_newest(database: Database, n: int) -> None:
    with database.engine.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM audit_log")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE id > :keep"), {"keep": newest - n})


def head_of(store: CheckpointStore) -> int | None:
    checkpoint = store.read()
    return None if checkpoint is None else checkpoint.last_id


@pytest.fixture
def log(database: Database, tmp_path: Path) -> AuditLog:
    return AuditLog.from_settings(database, AuditSettings(), home=tmp_path)


def reopened(database: Database, tmp_path: Path) -> AuditLog:
    """The log as another process (a later ``masterai audit verify``) sees it."""
    return AuditLog.from_settings(database, AuditSettings(), home=tmp_path)


def test_each_append_writes_the_signed_head_to_the_checkpoint_file(
    log: AuditLog, tmp_path: Path
) -> None:
    fill(log, 3)
    path = tmp_path / "audit.checkpoint"
    stored = json.loads(path.read_text())
    assert (stored["count"], stored["last_id"], stored["key_epoch"]) == (3, 3, 1)
    assert stored["last_hash"] == log.recent(1)[0].hash
    assert stored["first_signed_id"] == 1
    assert datetime.fromisoformat(stored["time"]) <= datetime.now(UTC)
    checkpoint = CheckpointFile(path).read()
    assert checkpoint is not None and checkpoint.is_signed_by(log.ensure_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    report = log.verify()
    assert (report.ok, report.checkpoint, report.checkpoint_last_id) == (
        True,
        f"the checkpoint file {path}",
        3,
    )


@pytest.mark.parametrize("deleted", [1, 3, 6])
def test_deleting_the_newest_records_fails_naming_the_checkpoint(
    database: Database, log: AuditLog, tmp_path: Path, deleted: int
) -> None:
    fill(log, 6)
    delete_newest(database, deleted)
    report = reopened(database, tmp_path).verify()
    assert (report.ok, report.problem, report.first_broken_id) == (
        False,
        Break.TRUNCATED,
        7 - deleted,
    )
    path = tmp_path / "audit.checkpoint"
    assert report.checkpoint == f"the checkpoint file {path}"
    assert f"records {7 - deleted} to 6 are missing: the checkpoint file {path}" in (
        report.reason or ""
    )


def test_records_appended_after_a_deletion_do_not_hide_it(
    database: Database, log: AuditLog, tmp_path: Path
) -> None:
    fill(log, 6)
    delete_newest(database, 2)
    fill(log, 5)  # the chain grows past the checkpointed head again
    report = reopened(database, tmp_path).verify()
    assert (report.ok, report.problem, report.first_broken_id) == (
        False,
        Break.CHECKPOINT_MISMATCH,
        6,
    )
    assert head_of(CheckpointFile(tmp_path / "audit.checkpoint")) == 6


@pytest.mark.parametrize("signer", ["unsigned", "wrong-key"])
def test_a_checkpoint_rewritten_without_the_key_fails(
    database: Database, log: AuditLog, tmp_path: Path, signer: str
) -> None:
    fill(log, 6)
    delete_newest(database, 2)
    path = tmp_path / "audit.checkpoint"
    head = log.recent(1)[0]
    forged = Checkpoint(
        count=4, last_id=4, last_hash=head.hash, time=datetime.now(UTC), key_epoch=1
    )
    if signer == "wrong-key":
        forged = forged.signed(Keyring(keys={1: "w" * 43}, current=1))
    path.write_text(forged.to_json())
    report = reopened(database, tmp_path).verify()
    assert (report.ok, report.problem, report.first_broken_id) == (
        False,
        Break.CHECKPOINT_INVALID,
        None,
    )
    assert f"the checkpoint file {path} is not signed by the audit key file" in (
        report.reason or ""
    )


def test_a_malformed_checkpoint_is_reported_not_raised(
    database: Database, log: AuditLog, tmp_path: Path
) -> None:
    fill(log, 2)
    (tmp_path / "audit.checkpoint").write_text('{"format": "masterai-audit-checkpoint", ')
    report = reopened(database, tmp_path).verify()
    assert (report.ok, report.problem) == (False, Break.CHECKPOINT_INVALID)
    assert "is not valid JSON" in (report.reason or "")
    fill(log, 1)  # the evidence is kept, not overwritten
    assert reopened(database, tmp_path).verify().problem == Break.CHECKPOINT_INVALID


def test_signed_records_without_any_checkpoint_fail(
    database: Database, log: AuditLog, tmp_path: Path
) -> None:
    fill(log, 3)
    (tmp_path / "audit.checkpoint").unlink()
    report = reopened(database, tmp_path).verify()
    assert (report.ok, report.problem) == (False, Break.NO_CHECKPOINT)
    assert str(tmp_path / "audit.checkpoint") in (report.reason or "")


def test_a_chain_rewritten_as_unsigned_from_the_first_record_fails_at_it(
    database: Database, log: AuditLog, tmp_path: Path
) -> None:
    fill(log, 4)
    with database.session() as s:  # every record posed as written before keys
        prev = GENESIS_HASH
        for record in s.scalars(select(AuditRecord).order_by(AuditRecord.id)):
            record.key_epoch = None
            record.prev_hash = prev
            record.hash = hashlib.sha256(canonical(record)).hexdigest()
            prev = record.hash
    report = reopened(database, tmp_path).verify()
    assert (report.first_broken_id, report.problem) == (1, Break.UNSIGNED)


def test_every_checkpoint_store_is_checked(database: Database, tmp_path: Path) -> None:
    second = MemoryCheckpoints()  # say, an object store with retention
    log = AuditLog.from_settings(database, AuditSettings(), home=tmp_path, checkpoints=[second])
    fill(log, 4)
    assert head_of(second) == 4
    (tmp_path / "audit.checkpoint").unlink()
    delete_newest(database, 2)
    report = log.verify()
    assert (report.problem, report.checkpoint, report.first_broken_id) == (
        Break.TRUNCATED,
        "the in-memory checkpoint",
        3,
    )


@pytest.mark.parametrize("store", ["file", "memory"])
def test_a_checkpoint_never_moves_back(tmp_path: Path, store: str) -> None:
    keyring = Keyring(keys={1: "k" * 43}, current=1)
    checkpoints: CheckpointStore = (
        CheckpointFile(tmp_path / "audit.checkpoint") if store == "file" else MemoryCheckpoints()
    )

    def at(last_id: int) -> Checkpoint:
        return Checkpoint(
            count=last_id,
            last_id=last_id,
            last_hash=f"{last_id:064x}",
            time=datetime.now(UTC),
            key_epoch=1,
        ).signed(keyring)

    checkpoints.write(at(5))
    checkpoints.write(at(3))
    assert head_of(checkpoints) == 5
    checkpoints.write(at(6))
    assert head_of(checkpoints) == 6


def test_processes_appending_at_once_share_the_key_file_and_the_checkpoint_moves_to_the_head(
    database: Database, tmp_path: Path
) -> None:
    import threading

    # separate engines and AuditLog objects: as separate processes, only the files and the
    # database's locks are shared (the key file is created by whichever comes first)
    engines = [database, Database(database.url)]
    logs = [AuditLog.from_settings(e, AuditSettings(), home=tmp_path) for e in engines]
    errors: list[BaseException] = []

    def work(log: AuditLog) -> None:
        try:
            fill(log, 15)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(logs[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engines[1].dispose()
    assert errors == []
    assert head_of(CheckpointFile(tmp_path / "audit.checkpoint")) == 60
    report = reopened(database, tmp_path).verify()
    assert (report.ok, report.checked, report.checkpoint_last_id) == (True, 60, 60)
