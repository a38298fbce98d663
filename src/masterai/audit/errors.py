"""Errors of the audit trail.

```
AuditError
├── AuditKeyError      the key is missing, unreadable, too weak, or behind the log's epoch
└── CheckpointError    a checkpoint cannot be read or written
```

A broken chain is not an error: :meth:`~masterai.audit.AuditLog.verify` reports it as data
(:class:`~masterai.audit.VerifyReport`). These errors mean the audit cannot be written or
checked at all, so every message says where the key or checkpoint lives and how to fix it.
"""

from __future__ import annotations


class AuditError(Exception):
    """Root of the audit trail's errors."""


class AuditKeyError(AuditError):
    """The audit key cannot be used: missing, unreadable, malformed, or older than the log."""


class CheckpointError(AuditError):
    """A checkpoint cannot be read (malformed) or written."""
