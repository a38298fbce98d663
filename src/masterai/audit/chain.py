"""The append-only, keyed audit chain: :class:`AuditLog` (append, verify, query, keys).

Each record is signed: its ``hash`` is HMAC-SHA256, under the secret of the current key
epoch, over ``prev_hash`` and the canonical JSON of its other fields (see
:mod:`masterai.audit.record`). The secret lives outside the database (a
:class:`~masterai.audit.base.KeyStore`), so write access to the database is not enough to
change a record and recompute the later hashes, or to append a forged one.

``id`` is the position in the chain, assigned under a lock (``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL, plus an in-process lock), so concurrent
appends from threads or processes never fork the chain and a deleted record leaves a
visible gap. After each append the signed head is written to every
:class:`~masterai.audit.base.CheckpointStore`, so deleting the newest records is detected too.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, inspect, or_, select, text

from masterai.audit import rows
from masterai.audit.base import CheckpointStore, KeyStore
from masterai.audit.checkpoint import Checkpoint, CheckpointFile, MemoryCheckpoints
from masterai.audit.errors import AuditError, AuditKeyError, CheckpointError
from masterai.audit.keys import KeyFile, Keyring, MemoryKeys, SettingKey
from masterai.audit.record import GENESIS_HASH, STATUSES, record_hash
from masterai.audit.verify import Break, NamedCheckpoint, VerifyReport, verify_chain
from masterai.security.redaction import redact, scrub_text, storable
from masterai.store import Database
from masterai.store.models import AuditRecord, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from masterai.settings import AuditSettings

_log = logging.getLogger(__name__)
_PG_LOCK_KEY = 0x6D61_6175  # "maau": the advisory lock that serialises audit appends
_MAX_TEXT = 2000


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """What to record about one registry call (before redaction)."""

    tool: str
    status: str
    """One of :data:`STATUSES`."""
    operation: str | None = None
    params: Any = field(default_factory=dict)
    result_summary: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    user_id: int | None = None
    user_name: str | None = None
    token_id: int | None = None
    client_address: str | None = None
    company_id: str | None = None
    company_ids: tuple[str, ...] = ()
    """Every company the call named (a change to several companies is found by each)."""
    request_id: str | None = None
    sensitive_keys: frozenset[str] = frozenset()
    """Parameter names the tool marks sensitive: redacted wherever they appear."""
    public_keys: frozenset[str] = frozenset()
    """Parameters declared not secret: kept although their name looks secret."""


def _clip(value: str | None, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    # Scrub a window a little wider than the limit (a secret cut at the edge is still
    # matched) instead of the whole text: results can be megabytes.
    scrubbed = scrub_text(value[: limit + 512]).replace("\x00", "\ufffd")
    if len(value) <= limit and len(scrubbed) <= limit:
        return scrubbed
    return scrubbed[:limit] + f"... [{len(value)} chars]"


def _short(value: str | None, limit: int) -> str | None:
    """Fit a value into a bounded column (PostgreSQL also refuses NUL characters)."""
    if value is None:
        return None
    return storable(value).replace("\x00", "\ufffd")[:limit]


def _companies(entry: AuditEntry) -> str | None:
    """The companies as stored: a JSON list, only when the call named more than one."""
    ids = sorted({_short(c, 64) or "" for c in entry.company_ids})
    return json.dumps(ids, ensure_ascii=False) if len(ids) > 1 else None


def _bounded_params(params: Any, max_bytes: int) -> Any:
    if params is None:  # stored NULL reads as malformed; "no arguments" is {}
        return {}
    encoded = json.dumps(params, sort_keys=True, ensure_ascii=False)
    if len(encoded.encode()) <= max_bytes:
        return params
    return {"_truncated": True, "bytes": len(encoded.encode()), "preview": encoded[:500]}


class AuditLog:
    """The audit trail in a :class:`~masterai.store.Database`, signed with a key kept elsewhere.

    Construction does no I/O: the key is loaded (or, for a log without signed records,
    created) on first use.

    Args:
        database: where ``audit_log`` lives.
        keys: where the key lives. Default: :meth:`MemoryKeys.throwaway()
            <masterai.audit.keys.MemoryKeys.throwaway>`, a random key only this object holds,
            so what it signs verifies only through it (tests, throwaway scripts); the
            platform passes the configured one (:meth:`from_settings`).
        checkpoints: where the signed head is written after each append and read by
            :meth:`verify`. Default: one in-memory store (this object only).
        max_params_bytes: redacted params larger than this are stored as a truncated preview.
    """

    def __init__(
        self,
        database: Database,
        *,
        keys: KeyStore | None = None,
        checkpoints: Sequence[CheckpointStore] | None = None,
        max_params_bytes: int = 16_384,
    ) -> None:
        self.database = database
        self.keys: KeyStore = keys if keys is not None else MemoryKeys.throwaway()
        self.checkpoints: tuple[CheckpointStore, ...] = (
            tuple(checkpoints) if checkpoints is not None else (MemoryCheckpoints(),)
        )
        self.max_params_bytes = max_params_bytes
        self._lock = threading.Lock()
        """Held by the writer of a group of appends (see :meth:`append`)."""
        self._pending_lock = threading.Lock()
        self._pending: list[_Pending] = []
        """Appends waiting for the next writer."""
        self._loop_groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopGroup] = (
            weakref.WeakKeyDictionary()
        )
        """Per event loop, the appends of :meth:`append_async` waiting for its writer task."""
        self._key_lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._first_signed: int | None = None
        """Id of the first signed record (found once; records are never removed)."""
        self._warned: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        database: Database,
        settings: AuditSettings,
        *,
        home: Path,
        max_params_bytes: int = 16_384,
        checkpoints: Sequence[CheckpointStore] = (),
    ) -> AuditLog:
        """The audit log as configured: key setting or key file, and the checkpoint file.

        The key is ``MASTERAI_AUDIT__KEY`` when set, else the key file; checkpoints go to the
        checkpoint file plus any further ``checkpoints``.

        Args:
            database: where ``audit_log`` lives.
            settings: the ``audit`` settings section.
            home: ``MASTERAI_HOME``, where the key and checkpoint files live by default.
            max_params_bytes: see the class.
            checkpoints: further checkpoint stores, written and checked beside the file.
        """
        keys: KeyStore
        if settings.key is not None:
            keys = SettingKey(settings.key.get_secret_value())
        else:
            keys = KeyFile((settings.key_file or home / "audit.key").absolute())
        checkpoint_file = (settings.checkpoint_file or home / "audit.checkpoint").absolute()
        return cls(
            database,
            keys=keys,
            checkpoints=(CheckpointFile(checkpoint_file), *checkpoints),
            max_params_bytes=max_params_bytes,
        )

    # --- keys ---------------------------------------------------------------------------

    @property
    def key_source(self) -> str:
        """Where the key lives (``the audit key file /srv/masterai/audit.key``)."""
        return self.keys.source

    def ensure_key(self) -> Keyring:
        """The keyring; created when missing, but only for a log without signed records.

        Raises:
            AuditKeyError: the key is missing although records are signed or a checkpoint
                exists (a new key would leave them unverifiable), or it cannot be read.
        """
        with self._key_lock:
            if self._keyring is None:
                self._keyring = self._load_key() or self.keys.create()
            return self._keyring

    @property
    def key_loaded(self) -> bool:
        """Whether :meth:`ensure_key` has loaded the keyring (it then reads no file)."""
        return self._keyring is not None

    def _load_key(self) -> Keyring | None:
        """The stored keyring; None only when it is missing and nothing was signed yet.

        Raises:
            AuditKeyError: the key is missing although records are signed.
        """
        keyring = self.keys.load()
        if keyring is not None:
            return keyring
        try:
            self._refuse_missing_key()
        except AuditKeyError:
            # Another process may have created the key and signed since we looked: a key
            # always exists before the first record it signs.
            keyring = self.keys.load()
            if keyring is None:
                raise
        return keyring

    def rotate_key(self) -> Keyring:
        """Start a new key epoch: records from now on are signed with a new secret.

        Earlier epochs stay in the keyring, so their records still verify.

        Raises:
            AuditKeyError: the key is missing, or its store cannot rotate (a key from
                ``MASTERAI_AUDIT__KEY`` is rotated where that secret is kept).
        """
        self.ensure_key()
        with self._key_lock:
            self._keyring = self.keys.rotate()
            return self._keyring

    def _refuse_missing_key(self) -> None:
        with self.database.session() as s:
            first = s.execute(
                select(AuditRecord.id, AuditRecord.key_epoch)
                .where(AuditRecord.key_epoch.is_not(None))
                .order_by(AuditRecord.id)
                .limit(1)
            ).first()
        evidence = []
        if first is not None:
            evidence.append(
                f"records are signed from record {first.id} on (key epoch {first.key_epoch})"
            )
        for store in self.checkpoints:
            try:
                present = store.read() is not None
            except CheckpointError:
                present = True
            if present:
                evidence.append(f"{store.name} exists")
        if evidence:
            raise AuditKeyError(
                f"The audit key is missing: {self.keys.source} does not exist, but "
                f"{' and '.join(evidence)}. A new key would leave them unverifiable: restore "
                "the key file from its backup, or give the keyring in MASTERAI_AUDIT__KEY "
                "(docs/platform.md, Audit trail)"
            )

    def _catch_up(self, epoch: int) -> Keyring:
        """A keyring at ``epoch`` or later: another process rotated the key."""
        with self._key_lock:
            fresh = self.keys.load()
            if fresh is None or fresh.current < epoch:
                at = "no key" if fresh is None else f"epoch {fresh.current}"
                raise AuditKeyError(
                    f"The audit log is already signed with key epoch {epoch}, but "
                    f"{self.keys.source} is at {at}: this process has an outdated key "
                    "(give it the rotated keyring and restart it)"
                )
            self._keyring = fresh
            return fresh

    # --- writing --------------------------------------------------------------------------

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Redact ``entry``, chain and sign it, store it, then write the checkpoint.

        Thread- and process-safe. Appends made at the same time by threads of this process
        are grouped (group commit): whichever holds the writer lock writes every waiting
        record in one transaction and moves the checkpoints once, to the last of them; the
        others find their record written when they get the lock. The chain is the same as
        one append at a time: consecutive ids, each linked to the one before.

        Raises:
            ValueError: ``entry.status`` is not one of :data:`STATUSES`.
            AuditKeyError: the key is missing for a log with signed records, or older than
                the newest record's epoch.
            CheckpointError: a checkpoint could not be written (the record is stored).
        """
        if entry.status not in STATUSES:
            raise ValueError(f"Invalid audit status {entry.status!r}. Allowed: {STATUSES}")
        keyring = self.ensure_key()
        pending = _Pending(self._record(entry))
        with self._pending_lock:
            self._pending.append(pending)
        with self._lock:
            if not pending.done:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._write_told(batch, keyring)
        if pending.error is not None:
            raise pending.error
        return pending.record

    async def append_async(self, entry: AuditEntry) -> AuditRecord:
        """:meth:`append` for callers on an event loop, grouped across the loop's calls.

        Appends arriving while a write is under way wait together and go in the next write:
        one thread, one transaction and one checkpoint for all of them, however many calls
        the loop carries (the threads of :meth:`append` group only as many as are blocked).
        The record is written even if the caller is cancelled meanwhile.

        Raises:
            The errors of :meth:`append`.
        """
        if entry.status not in STATUSES:
            raise ValueError(f"Invalid audit status {entry.status!r}. Allowed: {STATUSES}")
        loop = asyncio.get_running_loop()
        group = self._loop_groups.get(loop)
        if group is None:
            group = self._loop_groups[loop] = _LoopGroup()
        pending = _Pending(self._record(entry))
        written = loop.create_future()
        group.waiting.append((pending, written))
        if group.writer is None:
            group.writer = loop.create_task(self._write_loop_group(group))
        await asyncio.shield(written)
        if pending.error is not None:
            raise pending.error
        return pending.record

    async def _write_loop_group(self, group: _LoopGroup) -> None:
        try:
            while group.waiting:
                batch, group.waiting = group.waiting, []
                try:
                    await asyncio.to_thread(self._write_group, [p for p, _ in batch])
                except BaseException as e:  # the key failed to load; or cancelled at exit
                    for pending, _ in batch:
                        if not pending.done:
                            pending.fail(e if isinstance(e, Exception) else AuditError(str(e)))
                    if not isinstance(e, Exception):
                        raise
                finally:
                    for _, written in batch:
                        if not written.done():
                            written.set_result(None)
        finally:
            group.writer = None

    def _write_group(self, batch: list[_Pending]) -> None:
        keyring = self.ensure_key()
        with self._lock:
            self._write_told(batch, keyring)

    def _write_told(self, batch: list[_Pending], keyring: Keyring) -> None:
        """:meth:`_write_batch`; if interrupted (cancelled, exiting), every waiter is told."""
        try:
            self._write_batch(batch, keyring)
        finally:
            for pending in batch:
                if not pending.done:
                    pending.fail(AuditError("the audit write was interrupted"))

    def _write_batch(self, batch: list[_Pending], keyring: Keyring) -> None:
        """Write ``batch`` in one transaction; if that fails, each record on its own.

        Called under the in-process lock. A record the database refuses fails only its own
        append, as without grouping.
        """
        try:
            keyring = self._store([p.record for p in batch], keyring)
        except Exception as error:
            if len(batch) == 1:
                batch[0].fail(error)
                return
            for pending in batch:
                try:
                    keyring = self._store([pending.record], keyring)
                except Exception as e:
                    pending.fail(e)
                    continue
                self._checkpoint_one(pending, keyring)
            return
        # still under the in-process lock, so this process never sets a checkpoint back
        try:
            self._write_checkpoint([p.record for p in batch], keyring)
        except Exception as e:
            for pending in batch:
                pending.fail(e)
            return
        for pending in batch:
            pending.done = True

    def _checkpoint_one(self, pending: _Pending, keyring: Keyring) -> None:
        try:
            self._write_checkpoint([pending.record], keyring)
        except Exception as e:
            pending.fail(e)
        else:
            pending.done = True

    def _store(self, records: list[AuditRecord], keyring: Keyring) -> Keyring:
        """Chain, sign and insert ``records`` in one transaction; the keyring used."""
        with self.database.session(immediate=True) as s:
            if self.database.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            last = rows.newest(s, self.database.dialect)
            if last is not None and last.key_epoch and last.key_epoch > keyring.current:
                keyring = self._catch_up(last.key_epoch)
            next_id = 1 if last is None else last.id + 1
            if self._first_signed is None:
                self._first_signed = (
                    next_id if last is None or last.key_epoch is None else _first_signed(s)
                )
            # after a malformed newest row: link to nothing (verify reports that row)
            prev_hash = GENESIS_HASH if last is None else last.hash or ""
            for record in records:
                record.id = next_id
                record.prev_hash = prev_hash
                record.key_epoch = keyring.current
                record.hash = record_hash(record, keyring)
                next_id, prev_hash = next_id + 1, record.hash
            # one multi-row INSERT, without the unit of work's per-object bookkeeping
            s.execute(insert(AuditRecord), [_row(record) for record in records])
        return keyring

    def _record(self, entry: AuditEntry) -> AuditRecord:
        params = redact(
            entry.params, sensitive_keys=entry.sensitive_keys, public_keys=entry.public_keys
        )
        return AuditRecord(
            created_at=utcnow(),
            request_id=_short(entry.request_id, 64),
            user_id=entry.user_id,
            user_name=_short(entry.user_name, 128),
            token_id=entry.token_id,
            tool=_short(entry.tool, 128) or "",
            operation=_short(entry.operation, 128),
            params=_bounded_params(params, self.max_params_bytes),
            status=entry.status,
            result_summary=_clip(entry.result_summary),
            error=_clip(entry.error),
            duration_ms=round(float(entry.duration_ms), 3),
            client_address=_short(entry.client_address, 64),
            company_id=_short(entry.company_id, 64),
            company_ids=_companies(entry),
        )

    def _write_checkpoint(self, written: list[AuditRecord], keyring: Keyring) -> None:
        record = written[-1]
        checkpoint = Checkpoint(
            count=record.id,
            last_id=record.id,
            last_hash=record.hash,
            time=utcnow(),
            key_epoch=keyring.current,
            first_signed_id=self._first_signed,
        ).signed(keyring)
        for store in self.checkpoints:
            if self._extends(store, written, keyring):
                store.write(checkpoint)

    def _extends(
        self, store: CheckpointStore, written: list[AuditRecord], keyring: Keyring
    ) -> bool:
        """Whether ``store``'s checkpoint should move to the last of ``written``.

        Only along the same chain: if the checkpointed head is no longer in the chain (the
        newest records were deleted, records rewritten) or the checkpoint is not signed by
        the key, moving it would erase the evidence. It then stays as it is, and ``verify``
        keeps reporting, until an operator removes it.
        """
        try:
            current = store.read()
        except CheckpointError:
            current, intact = None, False
        else:
            if current is None:
                return True
            intact = current.is_signed_by(keyring) and hmac.compare_digest(
                current.last_hash, self._hash_at(current.last_id, written)
            )
        if not intact:
            if store.name not in self._warned:
                self._warned.add(store.name)
                _log.warning(
                    "Audit checkpoint not moved: %s %s. Run `masterai audit verify`.",
                    store.name,
                    "no longer matches the chain" if current else "cannot be read",
                )
            return False
        # else: a writer is ahead
        return current is not None and current.last_id < written[-1].id

    def _hash_at(self, record_id: int, written: list[AuditRecord]) -> str:
        """The stored hash of record ``record_id`` (``""``: none).

        No query for the records just written and the one before them (the usual case).
        """
        first = written[0].id
        if first <= record_id <= written[-1].id:
            return written[record_id - first].hash
        if record_id == first - 1:
            return written[0].prev_hash
        with self.database.session() as s:
            found = rows.at(s, self.database.dialect, record_id)
        return (found.hash or "") if found is not None else ""

    # --- verifying ------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Walk the chain from the first record and check it against every checkpoint.

        Never raises for what is stored: malformed rows, forged records and checkpoints
        are reported (``first_broken_id``, ``problem``, ``reason``).

        Raises:
            AuditKeyError: the key is missing although records are signed, or unreadable.
        """
        keyring = self._load_key()
        named: list[NamedCheckpoint] = []
        for store in self.checkpoints:  # read before walking: appends meanwhile only extend
            try:
                checkpoint = store.read()
            except CheckpointError as e:
                return _bad_checkpoint(store.name, str(e))
            if checkpoint is not None and (keyring is None or not checkpoint.is_signed_by(keyring)):
                return _bad_checkpoint(
                    store.name,
                    f"{store.name} is not signed by {self.keys.source}: it was forged or "
                    f"altered (it claims {checkpoint.describe()}, key epoch "
                    f"{checkpoint.key_epoch})",
                )
            named.append((store.name, checkpoint))
        return verify_chain(self._walk(), keyring=keyring, checkpoints=named)

    def _walk(self, batch: int = 1000) -> Iterator[AuditRecord]:
        last_id = 0
        query = rows.select_raw(self.database.dialect)
        while True:
            with self.database.session() as s:
                page = rows.read(
                    s, query.where(AuditRecord.id > last_id).order_by(AuditRecord.id).limit(batch)
                )
            yield from page
            if len(page) < batch or page[-1].id is None:
                return
            last_id = page[-1].id

    # --- reading --------------------------------------------------------------------------

    def head(self) -> tuple[int, str] | None:
        """``(id, hash)`` of the newest record, or None when the log is empty."""
        with self.database.session() as s:
            last = rows.newest(s, self.database.dialect)
        return None if last is None else (last.id, last.hash or "")

    def recent(self, limit: int = 20) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first (malformed rows marked, see ``problems``)."""
        query = rows.select_raw(self.database.dialect)
        with self.database.session() as s:
            found = rows.read(s, query.order_by(AuditRecord.id.desc()).limit(limit))
        return list(reversed(found))

    def search(
        self,
        *,
        tool: str | None = None,
        user: str | None = None,
        company: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Records matching every given filter, oldest first (at most ``limit``, newest).

        Malformed rows that match are returned marked (see ``AuditRecord.problems``).
        """
        query = rows.select_raw(self.database.dialect)
        if tool is not None:
            query = query.where(AuditRecord.tool == tool)
        if user is not None:
            query = query.where(AuditRecord.user_name == user)
        if company is not None:
            quoted = json.dumps(company, ensure_ascii=False)
            query = query.where(
                or_(
                    AuditRecord.company_id == company,
                    AuditRecord.company_ids.contains(quoted, autoescape=True),
                )
            )
        if status is not None:
            query = query.where(AuditRecord.status == status)
        if since is not None:
            query = query.where(AuditRecord.created_at >= since)
        with self.database.session() as s:
            found = rows.read(s, query.order_by(AuditRecord.id.desc()).limit(limit))
        return list(reversed(found))

    def count(self) -> int:
        """Number of stored records."""
        with self.database.session() as s:
            return s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()


@dataclass
class _Pending:
    """One append waiting in a group: done once written, or failed with ``error``."""

    record: AuditRecord
    done: bool = False
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True


_COLUMNS = tuple(attr.key for attr in inspect(AuditRecord).column_attrs)


def _row(record: AuditRecord) -> dict[str, Any]:
    return {key: getattr(record, key) for key in _COLUMNS}


@dataclass
class _LoopGroup:
    """The appends of one event loop waiting for the next grouped write, and its writer."""

    waiting: list[tuple[_Pending, asyncio.Future[None]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


def _first_signed(session: Session) -> int | None:
    return session.execute(
        select(func.min(AuditRecord.id)).where(AuditRecord.key_epoch.is_not(None))
    ).scalar_one_or_none()


def _bad_checkpoint(name: str, reason: str) -> VerifyReport:
    return VerifyReport(
        ok=False, checked=0, reason=reason, problem=Break.CHECKPOINT_INVALID, checkpoint=name
    )
