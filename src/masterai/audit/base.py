"""The audit trail's two plug points: where the key lives, where checkpoints are kept.

Implementations: :class:`~masterai.audit.keys.KeyFile`, :class:`~masterai.audit.keys.SettingKey`,
:class:`~masterai.audit.keys.MemoryKeys`; :class:`~masterai.audit.checkpoint.CheckpointFile`,
:class:`~masterai.audit.checkpoint.MemoryCheckpoints`. A second checkpoint store (an object
store bucket with retention, a remote log, another database) implements
:class:`CheckpointStore` and is passed beside the file: ``verify`` checks the chain against
every store, so removing the newest records *and* rewriting one store is still caught.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from masterai.audit.checkpoint import Checkpoint
    from masterai.audit.keys import Keyring


class KeyStore(Protocol):
    """Keeps the audit keyring outside the database."""

    source: str
    """Where the key lives, for messages (``the audit key file /srv/masterai/audit.key``)."""

    def load(self) -> Keyring | None:
        """The keyring, or None when none exists yet.

        Raises:
            AuditKeyError: it exists but cannot be read or is malformed.
        """
        ...

    def create(self) -> Keyring:
        """Create the first epoch (or return the keyring another process just created).

        Only called when the audit log holds no signed record: a missing key for signed
        records is an error, never a silently new key.
        """
        ...

    def rotate(self) -> Keyring:
        """Add a new current epoch, keeping the earlier ones.

        Raises:
            AuditKeyError: this store cannot rotate (the message says how to).
        """
        ...


class CheckpointStore(Protocol):
    """Keeps the newest signed :class:`~masterai.audit.checkpoint.Checkpoint`."""

    name: str
    """What and where it is, for messages (``the checkpoint file /srv/.../audit.checkpoint``)."""

    def read(self) -> Checkpoint | None:
        """The stored checkpoint, or None when there is none.

        Raises:
            CheckpointError: it cannot be read or is malformed.
        """
        ...

    def write(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` unless the stored one has a ``last_id`` as high or higher.

        Raises:
            CheckpointError: it cannot be written.
        """
        ...
