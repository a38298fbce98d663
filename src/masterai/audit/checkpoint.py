"""Signed checkpoints of the chain's head, kept outside the audit table.

After each append the head — record count, last id, last hash, time — is signed with the
current key epoch and written to every :class:`~masterai.audit.base.CheckpointStore`. A
checkpoint only moves forward: a store never replaces a checkpoint with an older one, so
concurrent writers (threads, processes) cannot set it back. ``verify`` checks the chain
against it: records deleted from the end of the table, or a head rewritten without the key,
no longer match.

The file form (:class:`CheckpointFile`, default ``<home>/audit.checkpoint``) is one JSON
object::

    {"format": "masterai-audit-checkpoint", "version": 1, "count": 42, "last_id": 42,
     "last_hash": "9f2c...", "time": "2026-05-01T12:00:00.000000Z", "key_epoch": 2,
     "first_signed_id": 1, "signature": "hmac-sha256 hex"}
"""

from __future__ import annotations

import hmac
import json
import os
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from masterai.audit.errors import CheckpointError
from masterai.audit.files import locked, replace_private
from masterai.audit.keys import Keyring

CHECKPOINT_FORMAT = "masterai-audit-checkpoint"
_DOMAIN = b"masterai audit checkpoint\n"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """The signed head of the chain at one moment."""

    count: int
    """Records in the chain (ids are positions, so this equals ``last_id``)."""
    last_id: int
    last_hash: str
    time: datetime
    """When the checkpoint was written (UTC)."""
    key_epoch: int
    """The key epoch that signed it."""
    first_signed_id: int | None = None
    """The first signed record: from it on, every record must be signed (an unsigned record
    there is a rewritten one, not one from before keys)."""
    signature: str = ""
    """HMAC-SHA256 (hex) of the other fields under ``key_epoch``'s secret."""

    def payload(self) -> bytes:
        """The signed bytes: every field except the signature, canonical JSON."""
        fields = {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "count": self.count,
            "last_id": self.last_id,
            "last_hash": self.last_hash,
            "time": _moment(self.time),
            "key_epoch": self.key_epoch,
            "first_signed_id": self.first_signed_id,
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, keyring: Keyring) -> Checkpoint:
        """This checkpoint signed with ``keyring``'s current epoch."""
        unsigned = replace(self, key_epoch=keyring.current, signature="")
        signature = keyring.sign(keyring.current, _DOMAIN + unsigned.payload())
        return replace(unsigned, signature=signature)

    def is_signed_by(self, keyring: Keyring) -> bool:
        """Whether the signature is ``keyring``'s (False for an epoch it does not hold)."""
        if not keyring.holds(self.key_epoch):
            return False
        expected = keyring.sign(self.key_epoch, _DOMAIN + self.payload())
        return hmac.compare_digest(expected, self.signature)

    def describe(self) -> str:
        """One phrase: how far the chain reached and when."""
        return (
            f"{self.count} records up to record {self.last_id} (hash {self.last_hash[:12]}..., "
            f"written {_moment(self.time)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as stored."""
        return {**json.loads(self.payload()), "signature": self.signature}

    def to_json(self) -> str:
        """The checkpoint as one JSON document."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Checkpoint:
        """Read a checkpoint written by :meth:`to_json`.

        Raises:
            CheckpointError: ``text`` is not a well-formed checkpoint.
        """
        try:
            data = json.loads(text)
        except ValueError:
            raise CheckpointError(f"{source} is not valid JSON") from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{source} is not an audit checkpoint")
        ints = [data.get(k) for k in ("count", "last_id", "key_epoch")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints):
            raise CheckpointError(f"{source}: count, last_id and key_epoch must be numbers")
        texts = [data.get(k) for k in ("last_hash", "signature", "time")]
        if not all(isinstance(v, str) for v in texts) or not _HEX64.fullmatch(data["last_hash"]):
            raise CheckpointError(f"{source}: last_hash, signature and time must be text")
        first = data.get("first_signed_id")
        if first is not None and not (isinstance(first, int) and not isinstance(first, bool)):
            raise CheckpointError(f"{source}: first_signed_id must be a number or null")
        try:
            moment = datetime.strptime(data["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            raise CheckpointError(f"{source}: time {data['time']!r} is not a timestamp") from None
        return cls(
            count=data["count"],
            last_id=data["last_id"],
            last_hash=data["last_hash"],
            time=moment,
            key_epoch=data["key_epoch"],
            first_signed_id=first,
            signature=data["signature"],
        )


class CheckpointFile:
    """The newest checkpoint in a file, replaced atomically (default ``<home>/audit.checkpoint``).

    Args:
        path: the checkpoint file (``MASTERAI_AUDIT__CHECKPOINT_FILE``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"the checkpoint file {path}"

    def read(self) -> Checkpoint | None:
        """The stored checkpoint, or None when there is none.

        Raises:
            CheckpointError: the file cannot be read or is malformed.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise CheckpointError(f"Cannot read {self.name}: {e}") from e
        return Checkpoint.from_json(text, source=self.name)

    def write(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` unless the stored one is as new or newer.

        A malformed stored checkpoint is replaced (only a signed, newer one is kept).

        Raises:
            CheckpointError: the file cannot be written.
        """
        try:
            with locked(self.path):
                try:
                    current = self.read()
                except CheckpointError:
                    current = None
                if current is not None and current.last_id >= checkpoint.last_id:
                    return
                replace_private(self.path, checkpoint.to_json())
        except OSError as e:
            raise CheckpointError(
                f"Cannot write {self.name}: {e.strerror or e} (the record was stored; fix the "
                f"file's directory or set MASTERAI_AUDIT__CHECKPOINT_FILE)"
            ) from e

    def __repr__(self) -> str:
        return f"CheckpointFile({os.fspath(self.path)!r})"


class MemoryCheckpoints:
    """The newest checkpoint in memory (tests; a second copy within one process)."""

    def __init__(self) -> None:
        self.name = "the in-memory checkpoint"
        self._checkpoint: Checkpoint | None = None
        self._lock = threading.Lock()

    def read(self) -> Checkpoint | None:
        """The stored checkpoint, or None."""
        return self._checkpoint

    def write(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` unless the stored one is as new or newer."""
        with self._lock:
            if self._checkpoint is None or self._checkpoint.last_id < checkpoint.last_id:
                self._checkpoint = checkpoint
