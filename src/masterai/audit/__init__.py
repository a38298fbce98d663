"""Audit: the append-only, keyed hash chain of every registry call, checkpoints, verifier.

Entry points: :class:`AuditLog` (``append``, ``verify``, ``recent``, ``search``,
``ensure_key``, ``rotate_key``, ``from_settings``), :class:`AuditEntry`,
:class:`VerifyReport` (:class:`Break` says why), the key stores (:class:`KeyFile`,
:class:`SettingKey`, :class:`MemoryKeys`) and checkpoint stores (:class:`CheckpointFile`,
:class:`MemoryCheckpoints`). See ``README.md`` beside this file.
"""

from masterai.audit.base import CheckpointStore, KeyStore
from masterai.audit.chain import AuditEntry, AuditLog
from masterai.audit.checkpoint import Checkpoint, CheckpointFile, MemoryCheckpoints
from masterai.audit.errors import AuditError, AuditKeyError, CheckpointError
from masterai.audit.keys import KeyFile, Keyring, MemoryKeys, SettingKey, parse_keyring
from masterai.audit.record import GENESIS_HASH, STATUSES, canonical, record_hash
from masterai.audit.verify import Break, VerifyReport, verify_chain

__all__ = [
    "GENESIS_HASH",
    "STATUSES",
    "AuditEntry",
    "AuditError",
    "AuditKeyError",
    "AuditLog",
    "Break",
    "Checkpoint",
    "CheckpointError",
    "CheckpointFile",
    "CheckpointStore",
    "KeyFile",
    "KeyStore",
    "Keyring",
    "MemoryCheckpoints",
    "MemoryKeys",
    "SettingKey",
    "VerifyReport",
    "canonical",
    "parse_keyring",
    "record_hash",
    "verify_chain",
]
