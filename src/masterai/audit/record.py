"""One audit record: its statuses, its canonical encoding and its hash.

A record's ``hash`` covers ``prev_hash`` and every other field, encoded as canonical JSON
(sorted keys, no whitespace, UTC timestamp with microseconds):

- a *signed* record (``key_epoch`` set) is HMAC-SHA256 under that epoch's secret, so nobody
  without the key can recompute it after a change or forge a new one;
- an *unsigned* record (``key_epoch`` NULL) is plain SHA-256, as every record was before
  keys existed. Such records verify only before the first signed one, whose HMAC covers
  their last hash and so seals them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

from masterai.audit.errors import AuditKeyError
from masterai.audit.keys import Keyring
from masterai.store.models import AuditRecord

GENESIS_HASH = "0" * 64
"""``prev_hash`` of record 1."""
STATUSES = ("ok", "denied", "invalid", "not_found", "failed", "timeout", "unavailable")
_RECORD_DOMAIN = b"masterai audit record\n"


def canonical(record: AuditRecord) -> bytes:
    """The canonical encoding of a record's hashed fields (everything except ``hash``)."""
    created = record.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {
        "id": record.id,
        "created_at": created,
        "request_id": record.request_id,
        "user_id": record.user_id,
        "user_name": record.user_name,
        "token_id": record.token_id,
        "tool": record.tool,
        "operation": record.operation,
        "params": record.params,
        "status": record.status,
        "result_summary": record.result_summary,
        "error": record.error,
        "duration_ms": record.duration_ms,
        "client_address": record.client_address,
        "company_id": record.company_id,
        "prev_hash": record.prev_hash,
    }
    # fields added later are hashed only when set, so older records keep their hash
    if record.company_ids is not None:
        fields["company_ids"] = record.company_ids
    if record.key_epoch is not None:
        fields["key_epoch"] = record.key_epoch
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def record_hash(record: AuditRecord, keyring: Keyring | None = None) -> str:
    """The hash chaining ``record`` to its predecessor (hex).

    HMAC-SHA256 under ``keyring``'s secret of ``record.key_epoch``; plain SHA-256 for an
    unsigned record (``key_epoch`` None).

    Raises:
        AuditKeyError: the record is signed and ``keyring`` is None or lacks its epoch.
    """
    if record.key_epoch is None:
        return hashlib.sha256(canonical(record)).hexdigest()
    if keyring is None:
        raise AuditKeyError(
            f"record {record.id} is signed with key epoch {record.key_epoch}; give the keyring"
        )
    return keyring.sign(record.key_epoch, _RECORD_DOMAIN + canonical(record))
