"""The keyed chain: records are HMAC-signed with a key kept outside the database, by epoch.

Each attack is done the way someone with write access to the database (but not the key)
would: change rows and recompute what they can.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from masterai.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditKeyError,
    AuditLog,
    Break,
    Keyring,
    MemoryCheckpoints,
    MemoryKeys,
    canonical,
    record_hash,
)
from masterai.settings import AuditSettings
from masterai.store import Database
from masterai.store.models import AuditRecord, utcnow

WRONG_KEY = Keyring(keys={1: "w" * 43, 2: "v" * 43}, current=1)
KEEP = -1
"""Leave each record's key epoch as it is."""

Hasher = Callable[[AuditRecord], str]


def plain_sha256(record: AuditRecord) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def wrong_key(record: AuditRecord) -> str:
    return record_hash(record, WRONG_KEY)


def fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(AuditEntry(tool="clock", operation="get_time", params={"i": i}, status="ok"))


def rewrite(database: Database, first: int, hasher: Hasher, epoch: int | None = KEEP) -> None:
    """Change record ``first``, then recompute its hash and every later one, links included."""
    with database.session() as s:
        records = list(
            s.scalars(select(AuditRecord).where(AuditRecord.id >= first).order_by(AuditRecord.id))
        )
        before = s.get(AuditRecord, first - 1)
        prev = before.hash if before is not None else GENESIS_HASH
        records[0].status = "denied"
        for record in records:
            if epoch != KEEP:
                record.key_epoch = epoch
            record.prev_hash = prev
            record.hash = hasher(record)
            prev = record.hash


def forge(database: Database, hasher: Hasher, epoch: int | None) -> int:
    """Append a record after the newest one, linked correctly; its id."""
    with database.session() as s:
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.id.desc()).limit(1)).one()
        record = AuditRecord(
            id=last.id + 1,
            created_at=utcnow(),
            tool="admin",
            operation="add_user",
            params={"operation": "add_user", "name": "mallory", "role": "super_admin"},
            status="ok",
            duration_ms=1.0,
            user_name="admin",
            prev_hash=last.hash,
            key_epoch=epoch,
        )
        record.hash = hasher(record)
        s.add(record)
        return record.id


@pytest.fixture
def keys() -> MemoryKeys:
    return MemoryKeys()


@pytest.fixture
def log(database: Database, keys: MemoryKeys) -> AuditLog:
    return AuditLog(database, keys=keys, checkpoints=[MemoryCheckpoints()])


def test_every_record_is_an_hmac_under_the_current_epoch(log: AuditLog) -> None:
    fill(log, 3)
    keyring = log.ensure_key()
    for record in log.recent(3):
        assert record.key_epoch == 1
        assert record.hash == record_hash(record, keyring)
        assert record.hash != plain_sha256(record)
    assert log.verify().ok


@pytest.mark.parametrize(
    ("hasher", "epoch", "problem"),
    [
        (plain_sha256, KEEP, Break.MODIFIED),
        (plain_sha256, None, Break.UNSIGNED),  # posing as records from before keys
        (wrong_key, KEEP, Break.MODIFIED),
        (lambda r: WRONG_KEY.sign(2, canonical(r)), 2, Break.UNKNOWN_EPOCH),
    ],
    ids=["sha256", "sha256-as-unsigned", "wrong-key", "wrong-key-new-epoch"],
)
def test_an_edit_with_every_later_hash_recomputed_without_the_key_fails_at_that_record(
    database: Database, log: AuditLog, hasher: Hasher, epoch: int | None, problem: Break
) -> None:
    fill(log, 6)
    rewrite(database, 3, hasher, epoch)
    report = log.verify()
    assert (report.ok, report.first_broken_id, report.problem) == (False, 3, problem)
    assert report.checked == 2
    assert (report.reason or "").startswith("record 3 ")


@pytest.mark.parametrize(
    ("hasher", "epoch", "problem"),
    [
        (plain_sha256, None, Break.UNSIGNED),
        (plain_sha256, 1, Break.MODIFIED),
        (wrong_key, 1, Break.MODIFIED),
        (lambda r: "f" * 64, 1, Break.MODIFIED),
        (lambda r: WRONG_KEY.sign(2, canonical(r)), 2, Break.UNKNOWN_EPOCH),
    ],
    ids=["sha256-unsigned", "sha256", "wrong-key", "made-up", "unknown-epoch"],
)
def test_a_forged_record_appended_without_the_key_fails(
    database: Database, log: AuditLog, hasher: Hasher, epoch: int | None, problem: Break
) -> None:
    fill(log, 4)
    forged = forge(database, hasher, epoch)
    report = log.verify()
    assert (report.ok, report.first_broken_id, report.problem) == (False, forged, problem)


def test_rotating_the_key_starts_a_new_epoch_and_earlier_records_still_verify(
    database: Database, log: AuditLog, keys: MemoryKeys
) -> None:
    fill(log, 3)
    assert log.rotate_key().current == 2
    fill(log, 2)
    assert [r.key_epoch for r in log.recent(10)] == [1, 1, 1, 2, 2]
    assert log.verify().ok and log.verify().checked == 5


def test_a_retired_key_cannot_sign_after_a_rotation(database: Database, log: AuditLog) -> None:
    fill(log, 3)
    old = log.ensure_key()
    log.rotate_key()
    fill(log, 2)
    leaked = Keyring(keys={1: old.keys[1]}, current=1)  # the old secret, say from a backup
    forged = forge(database, lambda r: record_hash(r, leaked), 1)
    report = log.verify()
    assert (report.first_broken_id, report.problem) == (forged, Break.EPOCH_ORDER)


def test_a_process_whose_key_file_was_rotated_elsewhere_signs_with_the_new_epoch(
    database: Database, tmp_path: Path
) -> None:
    settings = AuditSettings()
    first = AuditLog.from_settings(database, settings, home=tmp_path)
    second = AuditLog.from_settings(database, settings, home=tmp_path)
    fill(first, 1)
    second.rotate_key()
    fill(second, 1)
    fill(first, 1)  # loaded epoch 1 before the rotation
    assert [r.key_epoch for r in first.recent(3)] == [1, 2, 2]
    assert first.verify().ok


def test_a_process_with_an_outdated_fixed_key_is_refused_not_signing_with_it(
    database: Database,
) -> None:
    keyring = Keyring(keys={1: "k" * 43}, current=1)
    current = AuditLog(database, keys=MemoryKeys(keyring))
    outdated = AuditLog(database, keys=MemoryKeys(keyring))
    fill(outdated, 1)
    current.rotate_key()
    fill(current, 1)
    with pytest.raises(AuditKeyError, match=r"already signed with key epoch 2.*epoch 1"):
        fill(outdated, 1)
    assert current.count() == 2


def test_the_key_file_is_created_on_first_use_private_and_reused(
    database: Database, tmp_path: Path
) -> None:
    log = AuditLog.from_settings(database, AuditSettings(), home=tmp_path)
    key_file = tmp_path / "audit.key"
    assert not key_file.exists()  # building the log does no I/O
    fill(log, 2)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    document = json.loads(key_file.read_text())
    assert (document["current"], list(document["keys"])) == (1, ["1"])
    fill(AuditLog.from_settings(database, AuditSettings(), home=tmp_path), 1)
    assert json.loads(key_file.read_text()) == document
    log.rotate_key()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(json.loads(key_file.read_text())["keys"]) == ["1", "2"]
    assert AuditLog.from_settings(database, AuditSettings(), home=tmp_path).verify().ok


def test_a_missing_key_file_for_signed_records_is_one_clear_error_not_a_new_key(
    database: Database, tmp_path: Path
) -> None:
    fill(AuditLog.from_settings(database, AuditSettings(), home=tmp_path), 2)
    key_file = tmp_path / "audit.key"
    key_file.unlink()
    fresh = AuditLog.from_settings(database, AuditSettings(), home=tmp_path)
    with pytest.raises(AuditKeyError) as appending:
        fill(fresh, 1)
    message = str(appending.value)
    assert "audit key is missing" in message and str(key_file) in message
    assert "records are signed from record 1 on" in message and "\n" not in message
    with pytest.raises(AuditKeyError, match="audit key is missing"):
        fresh.verify()
    with pytest.raises(AuditKeyError, match="audit key is missing"):
        fresh.rotate_key()
    assert not key_file.exists()
    assert fresh.count() == 2


def test_a_missing_key_with_only_the_checkpoint_left_is_an_error_too(
    database: Database, tmp_path: Path
) -> None:
    from sqlalchemy import text

    fill(AuditLog.from_settings(database, AuditSettings(), home=tmp_path), 2)
    (tmp_path / "audit.key").unlink()
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    fresh = AuditLog.from_settings(database, AuditSettings(), home=tmp_path)
    with pytest.raises(AuditKeyError, match=r"audit\.checkpoint exists"):
        fresh.verify()


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (None, 0o644, "open to other users (mode 0644)"),
        ("{not json", 0o600, "is not a keyring"),
        ('{"current": 1, "keys": {"1": "short"}}', 0o600, "shorter than 32 characters"),
        ('{"current": 3, "keys": {"1": "' + "k" * 43 + '"}}', 0o600, "epoch 3 has no key"),
    ],
    ids=["readable-by-others", "not-json", "short-secret", "no-current-key"],
)
def test_an_unusable_key_file_is_refused_naming_it(
    database: Database, tmp_path: Path, content: str | None, mode: int, message: str
) -> None:
    fill(AuditLog.from_settings(database, AuditSettings(), home=tmp_path), 1)
    key_file = tmp_path / "audit.key"
    if content is not None:
        key_file.write_text(content)
    key_file.chmod(mode)
    with pytest.raises(AuditKeyError, match=re.escape(message)) as refused:
        AuditLog.from_settings(database, AuditSettings(), home=tmp_path).verify()
    assert str(key_file) in str(refused.value)


def test_a_key_from_the_setting_signs_without_a_key_file_and_is_rotated_where_it_lives(
    database: Database, tmp_path: Path
) -> None:
    settings = AuditSettings(key=SecretStr("s" * 40))
    log = AuditLog.from_settings(database, settings, home=tmp_path)
    fill(log, 2)
    assert not (tmp_path / "audit.key").exists()
    assert AuditLog.from_settings(database, settings, home=tmp_path).verify().ok
    with pytest.raises(AuditKeyError, match=r"MASTERAI_AUDIT__KEY.*\"2\": \"<new secret>\""):
        log.rotate_key()
    # the operator adds epoch 2 in the secret manager: new records use it, old ones verify
    rotated = json.dumps({"current": 2, "keys": {"1": "s" * 40, "2": "t" * 40}})
    log = AuditLog.from_settings(database, AuditSettings(key=SecretStr(rotated)), home=tmp_path)
    fill(log, 1)
    assert [r.key_epoch for r in log.recent(3)] == [1, 1, 2]
    assert log.verify().ok


def test_a_key_file_moved_into_the_setting_keeps_verifying(
    database: Database, tmp_path: Path
) -> None:
    log = AuditLog.from_settings(database, AuditSettings(), home=tmp_path)
    fill(log, 1)
    log.rotate_key()
    fill(log, 1)
    keyring = (tmp_path / "audit.key").read_text()
    (tmp_path / "audit.key").unlink()
    moved = AuditLog.from_settings(database, AuditSettings(key=SecretStr(keyring)), home=tmp_path)
    assert moved.verify().ok


def test_a_short_key_in_the_setting_is_refused(database: Database, tmp_path: Path) -> None:
    log = AuditLog.from_settings(database, AuditSettings(key=SecretStr("hunter2")), home=tmp_path)
    with pytest.raises(AuditKeyError, match="shorter than 32 characters") as refused:
        fill(log, 1)
    assert "hunter2" not in str(refused.value)
    assert log.count() == 0


def test_records_from_before_keys_verify_and_the_first_signed_record_seals_them(
    database: Database, log: AuditLog
) -> None:
    prev = GENESIS_HASH
    with database.session() as s:  # as an older version wrote them: plain SHA-256
        for i in range(1, 4):
            record = AuditRecord(
                id=i,
                created_at=utcnow(),
                tool="clock",
                params={},
                status="ok",
                duration_ms=0.0,
                prev_hash=prev,
            )
            record.hash = record_hash(record)
            prev = record.hash
            s.add(record)
    fill(log, 2)
    report = log.verify()
    assert (report.ok, report.checked, report.unsigned) == (True, 5, 3)
    # posing the signed records as more records from before keys: the checkpoint knows
    # where signing began
    rewrite(database, 2, plain_sha256, epoch=None)
    report = log.verify()
    assert (report.first_broken_id, report.problem) == (4, Break.UNSIGNED)
    assert "says every record from 4 on is" in (report.reason or "")


def test_changing_an_unsigned_record_before_the_signed_ones_breaks_their_link(
    database: Database, log: AuditLog
) -> None:
    with database.session() as s:
        prev = GENESIS_HASH
        for i in (1, 2):
            record = AuditRecord(
                id=i, created_at=utcnow(), tool="t", params={}, status="ok", duration_ms=0.0
            )
            record.prev_hash = prev
            record.hash = record_hash(record)
            prev = record.hash
            s.add(record)
    fill(log, 2)
    with database.session() as s:
        changed = s.get(AuditRecord, 2)
        assert changed is not None
        changed.status = "denied"
        changed.hash = plain_sha256(changed)
    report = log.verify()
    assert (report.first_broken_id, report.problem) == (3, Break.UNLINKED)
