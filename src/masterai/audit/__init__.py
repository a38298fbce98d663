"""Audit: the append-only, hash-chained record of every registry call, and its verifier.

Entry points: :class:`AuditLog` (``append``, ``verify``, ``recent``, ``search``),
:class:`AuditEntry`, :class:`VerifyReport`. See ``README.md`` beside this file.
"""

from masterai.audit.chain import (
    GENESIS_HASH,
    STATUSES,
    AuditEntry,
    AuditLog,
    VerifyReport,
    canonical,
    record_hash,
    verify_chain,
)

__all__ = [
    "GENESIS_HASH",
    "STATUSES",
    "AuditEntry",
    "AuditLog",
    "VerifyReport",
    "canonical",
    "record_hash",
    "verify_chain",
]
