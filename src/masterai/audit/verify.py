"""Walking the chain: :func:`verify_chain` and its :class:`VerifyReport`."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from masterai.audit.checkpoint import Checkpoint
from masterai.audit.keys import Keyring
from masterai.audit.record import GENESIS_HASH, record_hash
from masterai.store.models import AuditRecord


class Break(StrEnum):
    """Why verification failed (``problem`` in :class:`VerifyReport` and ``--json``)."""

    MALFORMED = "malformed"
    """A stored row cannot be read as a record (bad JSON, bad timestamp, NULL, ...)."""
    MISSING = "missing"
    """An id is skipped: a record was deleted from the middle."""
    OUT_OF_ORDER = "out_of_order"
    UNLINKED = "unlinked"
    """``prev_hash`` is not the previous record's hash."""
    MODIFIED = "modified"
    """The hash does not match the content (changed, recomputed without the key, forged)."""
    UNSIGNED = "unsigned"
    """An unsigned record after a signed one."""
    UNKNOWN_EPOCH = "unknown_epoch"
    """Signed with a key epoch the keyring does not hold."""
    EPOCH_ORDER = "epoch_order"
    """Signed with an older epoch than a record before it (a retired key)."""
    TRUNCATED = "truncated"
    """The chain ends before the checkpoint's head: the newest records were deleted."""
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    """The record at the checkpoint's head has another hash than the checkpoint says."""
    CHECKPOINT_INVALID = "checkpoint_invalid"
    """A checkpoint is malformed or not signed by the key."""
    NO_CHECKPOINT = "no_checkpoint"
    """Signed records but no checkpoint anywhere: truncation cannot be ruled out."""


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    """The outcome of :meth:`~masterai.audit.AuditLog.verify`."""

    ok: bool
    checked: int
    """Records found intact."""
    first_broken_id: int | None = None
    """The first record that is broken or missing (None: a checkpoint's own problem)."""
    reason: str | None = None
    """One sentence: what is wrong, with the record, checkpoint and key named."""
    problem: Break | None = None
    unsigned: int = 0
    """Intact records written before keys (plain SHA-256, before the first signed one)."""
    checkpoint: str | None = None
    """The checkpoint store the chain was checked against (or the one at fault)."""
    checkpoint_last_id: int | None = None
    """The head that checkpoint records."""

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (``audit verify --json``)."""
        data = asdict(self)
        data["problem"] = None if self.problem is None else str(self.problem)
        return data


NamedCheckpoint = tuple[str, Checkpoint | None]
"""A checkpoint store's name and what it holds (None: nothing yet)."""


class _Walk:
    """The state of one walk along the chain."""

    def __init__(self, keyring: Keyring | None, checkpoints: Sequence[NamedCheckpoint]) -> None:
        self.keyring = keyring
        self.stores = [name for name, _ in checkpoints]
        self.checkpoints = [(name, cp) for name, cp in checkpoints if cp is not None]
        firsts = [(cp.first_signed_id, name) for name, cp in self.checkpoints if cp.first_signed_id]
        self.signed_from = min(firsts) if firsts else None
        """From which record on every record must be signed, and which checkpoint says so."""
        self.expected_id = 1
        self.prev_hash = GENESIS_HASH
        self.checked = 0
        self.unsigned = 0
        self.epoch = 0
        """The highest epoch seen so far (0: no signed record yet)."""

    def broken(self, record_id: int | None, problem: Break, reason: str) -> VerifyReport:
        return VerifyReport(
            ok=False,
            checked=self.checked,
            first_broken_id=record_id,
            reason=reason,
            problem=problem,
            unsigned=self.unsigned,
        )

    def step(self, record: AuditRecord) -> VerifyReport | None:
        """Check one record; the report if it is broken."""
        expected = self.expected_id
        if record.id is not None and record.id != expected:
            if record.id > expected:
                reason = (
                    f"record {expected} is missing (record {expected - 1} is followed by "
                    f"record {record.id})"
                )
                return self.broken(expected, Break.MISSING, reason)
            reason = f"record {record.id} is out of order (expected {expected})"
            return self.broken(expected, Break.OUT_OF_ORDER, reason)
        if record.problems:
            where = (
                f"record {expected}" if record.id is not None else f"the row after {expected - 1}"
            )
            return self.broken(
                expected, Break.MALFORMED, f"{where} is malformed: {'; '.join(record.problems)}"
            )
        if record.prev_hash != self.prev_hash:
            return self.broken(
                record.id,
                Break.UNLINKED,
                f"record {record.id} does not link to record {record.id - 1} (prev_hash "
                "differs: a record was changed, replaced or reordered)",
            )
        return self.check_signature(record) or self.check_checkpoints(record)

    def check_signature(self, record: AuditRecord) -> VerifyReport | None:
        epoch = record.key_epoch
        if epoch is None and self.epoch:
            return self.broken(
                record.id,
                Break.UNSIGNED,
                f"record {record.id} is not signed (no key epoch) although records before it "
                "are: unsigned records may only come before the first signed one",
            )
        if epoch is None and self.signed_from and record.id >= self.signed_from[0]:
            first, name = self.signed_from
            return self.broken(
                record.id,
                Break.UNSIGNED,
                f"record {record.id} is not signed (no key epoch) although {name} says every "
                f"record from {first} on is",
            )
        if epoch is not None:
            if self.keyring is None or not self.keyring.holds(epoch):
                source = self.keyring.source if self.keyring else "no audit key"
                return self.broken(
                    record.id,
                    Break.UNKNOWN_EPOCH,
                    f"record {record.id} is signed with key epoch {epoch}, which {source} "
                    "does not hold",
                )
            if epoch < self.epoch:
                return self.broken(
                    record.id,
                    Break.EPOCH_ORDER,
                    f"record {record.id} is signed with key epoch {epoch} after records of "
                    f"epoch {self.epoch}: a retired key cannot sign after a rotation",
                )
        if not hmac.compare_digest(record_hash(record, self.keyring), record.hash):
            under = f" under key epoch {epoch}" if epoch is not None else ""
            return self.broken(
                record.id,
                Break.MODIFIED,
                f"record {record.id} was modified (its hash does not match its content{under})",
            )
        return None

    def check_checkpoints(self, record: AuditRecord) -> VerifyReport | None:
        for name, cp in self.checkpoints:
            if cp.last_id == record.id and not hmac.compare_digest(cp.last_hash, record.hash):
                return self.broken(
                    record.id,
                    Break.CHECKPOINT_MISMATCH,
                    f"record {record.id} is not the record {name} names as the head "
                    f"({cp.describe()}): the chain was rewritten from here on",
                )
        self.advance(record)
        return None

    def advance(self, record: AuditRecord) -> None:
        self.checked += 1
        self.expected_id += 1
        self.prev_hash = record.hash
        if record.key_epoch is None:
            self.unsigned += 1
        else:
            self.epoch = max(self.epoch, record.key_epoch)

    def finish(self) -> VerifyReport:
        """The report once every record passed: the chain must reach every checkpoint."""
        for name, cp in self.checkpoints:
            head = max(cp.last_id, cp.count)
            if self.checked < head:
                ends = f"record {self.checked}" if self.checked else "nothing (it is empty)"
                report = self.broken(
                    self.checked + 1,
                    Break.TRUNCATED,
                    f"records {self.checked + 1} to {head} are missing: {name} records "
                    f"{cp.describe()}, but the log ends at {ends}",
                )
                return _with_checkpoint(report, name, cp)
        if self.epoch and self.stores and not self.checkpoints:
            report = self.broken(
                None,
                Break.NO_CHECKPOINT,
                f"no checkpoint found ({', '.join(self.stores)}) although the log holds "
                "signed records: whether the newest records were deleted cannot be checked",
            )
            return _with_checkpoint(report, self.stores[0], None)
        report = VerifyReport(ok=True, checked=self.checked, unsigned=self.unsigned)
        if self.checkpoints:
            name, cp = max(self.checkpoints, key=lambda item: item[1].last_id)
            return _with_checkpoint(report, name, cp)
        return report


def _with_checkpoint(report: VerifyReport, name: str, cp: Checkpoint | None) -> VerifyReport:
    return replace(report, checkpoint=name, checkpoint_last_id=cp.last_id if cp else None)


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    keyring: Keyring | None = None,
    checkpoints: Sequence[NamedCheckpoint] = (),
) -> VerifyReport:
    """Check the chain: well-formed rows, ids consecutive from 1, links, hashes, epochs.

    Args:
        records: the records in id order (as read by ``masterai.audit.rows``).
        keyring: the keys of signed records (None: only unsigned records can verify).
        checkpoints: each store's checkpoint, signatures already checked. The chain must
            reach every checkpoint's head with the same hash; with stores but no checkpoint
            at all, signed records fail (:attr:`Break.NO_CHECKPOINT`).
    """
    walk = _Walk(keyring, checkpoints)
    for record in records:
        report = walk.step(record)
        if report is not None:
            return report
    return walk.finish()
