"""The audit key: a :class:`Keyring` of secrets by epoch, and where it is kept.

Each record is signed (HMAC-SHA256) with the secret of the *current* epoch and stores that
epoch's number; older epochs stay in the keyring so their records still verify. A keyring
is written as one JSON document::

    {"format": "masterai-audit-key", "version": 1, "current": 2,
     "keys": {"1": "<secret>", "2": "<secret>"}}

Stores (the :class:`~masterai.audit.base.KeyStore` contract):

- :class:`KeyFile` (default ``<home>/audit.key``, mode 0600): created by ``masterai init`` or
  the first signed record; :meth:`KeyFile.rotate` adds an epoch.
- :class:`SettingKey` (``MASTERAI_AUDIT__KEY``, e.g. injected from a secret manager): a bare
  secret (epoch 1) or the JSON document above; rotated where the secret lives.
- :class:`MemoryKeys`: a key held by one process only (tests, throwaway scripts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from masterai.audit.errors import AuditKeyError
from masterai.audit.files import create_private, locked, replace_private

KEY_FORMAT = "masterai-audit-key"
MIN_SECRET_CHARS = 32
"""Shortest secret accepted (``secrets.token_urlsafe(32)`` makes 43 characters)."""
SETTING = "MASTERAI_AUDIT__KEY"


def new_secret() -> str:
    """A fresh random secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, kw_only=True)
class Keyring:
    """The audit secrets by epoch and the epoch that signs new records.

    Raises:
        AuditKeyError: ``current`` is not one of the epochs, an epoch is not positive, or a
            secret is shorter than :data:`MIN_SECRET_CHARS`.
    """

    keys: Mapping[int, str] = field(repr=False)
    """Secret of each epoch (never shown in ``repr``)."""
    current: int
    """The epoch new records and checkpoints are signed with."""
    source: str = "the audit key"
    """Where the keyring came from, for messages (``key file /srv/audit.key``)."""

    def __post_init__(self) -> None:
        if any(epoch < 1 for epoch in self.keys):
            raise AuditKeyError(f"{self.source}: key epochs are numbered from 1")
        if self.current not in self.keys:
            raise AuditKeyError(
                f"{self.source}: the current epoch {self.current} has no key "
                f"(epochs held: {sorted(self.keys)})"
            )
        short = sorted(e for e, s in self.keys.items() if len(s) < MIN_SECRET_CHARS)
        if short:
            raise AuditKeyError(
                f"{self.source}: the secret of epoch {short[0]} is shorter than "
                f"{MIN_SECRET_CHARS} characters; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )

    @property
    def epochs(self) -> list[int]:
        """The epochs held, oldest first."""
        return sorted(self.keys)

    def holds(self, epoch: int) -> bool:
        """Whether the secret of ``epoch`` is in this keyring."""
        return epoch in self.keys

    def sign(self, epoch: int, message: bytes) -> str:
        """HMAC-SHA256 (hex) of ``message`` under ``epoch``'s secret.

        Raises:
            AuditKeyError: the keyring does not hold ``epoch``.
        """
        try:
            secret = self.keys[epoch]
        except KeyError:
            raise AuditKeyError(
                f"{self.source} holds no key of epoch {epoch} (epochs held: {self.epochs})"
            ) from None
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    def rotated(self, secret: str) -> Keyring:
        """This keyring with ``secret`` as a new, current epoch (the old ones kept)."""
        epoch = max(self.keys) + 1
        return Keyring(keys={**self.keys, epoch: secret}, current=epoch, source=self.source)

    def to_json(self) -> str:
        """The keyring as the JSON document of a key file (holds the secrets)."""
        document = {
            "format": KEY_FORMAT,
            "version": 1,
            "current": self.current,
            "keys": {str(e): self.keys[e] for e in self.epochs},
        }
        return json.dumps(document, indent=2) + "\n"


def parse_keyring(text: str, *, source: str, bare: bool = False) -> Keyring:
    """Read a keyring from its JSON document (or, with ``bare``, from a lone secret: epoch 1).

    Raises:
        AuditKeyError: the text is neither; the message never contains a secret.
    """
    text = text.strip()
    if bare and not text.startswith("{"):
        return Keyring(keys={1: text}, current=1, source=source)
    try:
        document = json.loads(text)
    except ValueError:
        raise AuditKeyError(
            f"{source} is not a keyring: expected a JSON object "
            '{"current": N, "keys": {"1": "<secret>", ...}}'
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
        raise AuditKeyError(f'{source} is not a keyring: it has no "keys" object')
    keys: dict[int, str] = {}
    for epoch, secret in document["keys"].items():
        if not (isinstance(epoch, str) and epoch.isdigit() and isinstance(secret, str)):
            raise AuditKeyError(
                f'{source}: every key must be "<epoch number>": "<secret>", got epoch {epoch!r}'
            )
        keys[int(epoch)] = secret
    if not keys:
        raise AuditKeyError(f"{source} holds no key")
    current = document.get("current", max(keys))
    if not isinstance(current, int) or isinstance(current, bool):
        raise AuditKeyError(f'{source}: "current" must be an epoch number, got {current!r}')
    return Keyring(keys=keys, current=current, source=source)


class KeyFile:
    """The keyring in a file of its own (mode 0600), outside the database.

    Args:
        path: the key file (``MASTERAI_AUDIT__KEY_FILE``, default ``<home>/audit.key``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = f"the audit key file {path}"

    def load(self) -> Keyring | None:
        """The keyring, or None when the file does not exist.

        Raises:
            AuditKeyError: the file is readable by others, unreadable or malformed.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise AuditKeyError(f"Cannot read {self.source}: {e.strerror}") from e
        with os.fdopen(fd, encoding="utf-8") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise AuditKeyError(
                    f"{self.source} is open to other users (mode {mode:04o}); it must be "
                    f"private: chmod 600 {self.path}"
                )
            try:
                text = f.read()
            except (OSError, UnicodeDecodeError) as e:
                raise AuditKeyError(f"Cannot read {self.source}: {e}") from e
        return parse_keyring(text, source=self.source)

    def create(self) -> Keyring:
        """Create the file with a new epoch 1; if another process just did, its keyring."""
        keyring = Keyring(keys={1: new_secret()}, current=1, source=self.source)
        try:
            created = create_private(self.path, keyring.to_json())
        except OSError as e:
            raise AuditKeyError(f"Cannot create {self.source}: {e}") from e
        if created:
            return keyring
        existing = self.load()
        if existing is None:  # created and deleted in between: do not guess
            raise AuditKeyError(f"{self.source} vanished while it was being created")
        return existing

    def rotate(self) -> Keyring:
        """Add a new epoch with a new secret and make it current (earlier epochs kept).

        Raises:
            AuditKeyError: there is no key file to rotate, or it cannot be written.
        """
        try:
            with locked(self.path):
                keyring = self.load()
                if keyring is None:
                    raise AuditKeyError(
                        f"There is no audit key to rotate: {self.source} does not exist "
                        "(run `masterai init`)"
                    )
                rotated = keyring.rotated(new_secret())
                replace_private(self.path, rotated.to_json())
        except OSError as e:
            raise AuditKeyError(f"Cannot rotate {self.source}: {e}") from e
        return rotated


class SettingKey:
    """The keyring given by the setting ``MASTERAI_AUDIT__KEY`` (a secret manager's value).

    Args:
        value: a bare secret (epoch 1) or a keyring's JSON document (several epochs).
    """

    def __init__(self, value: str) -> None:
        self._value = value
        self.source = f"the setting {SETTING}"

    def __repr__(self) -> str:
        return "SettingKey(<secret>)"

    def load(self) -> Keyring:
        """The keyring of the setting.

        Raises:
            AuditKeyError: the value is malformed or a secret is too short.
        """
        return parse_keyring(self._value, source=self.source, bare=True)

    def create(self) -> Keyring:
        """The setting's keyring (it always exists)."""
        return self.load()

    def rotate(self) -> Keyring:
        """Refused: a key from a setting is rotated where it is kept.

        Raises:
            AuditKeyError: always, saying how to rotate it there.
        """
        keyring = self.load()
        epoch = max(keyring.keys) + 1
        raise AuditKeyError(
            f"The audit key comes from {SETTING}, so it is rotated where that secret is "
            f'kept: store it as {{"current": {epoch}, "keys": {{..., "{epoch}": "<new '
            'secret>"}}} (keep every earlier epoch) and restart each process'
        )


class MemoryKeys:
    """A keyring held in memory by one process (tests, throwaway scripts).

    The key is lost when the process exits, and with it the means to verify its records.

    Args:
        keyring: the keyring to start with (default: none until the first signed record).
    """

    def __init__(self, keyring: Keyring | None = None) -> None:
        self.source = "the in-memory audit key"
        self._keyring = keyring
        self._lock = threading.Lock()

    @classmethod
    def throwaway(cls) -> MemoryKeys:
        """A store already holding a fresh random key, so it is never "missing".

        For a log nobody gave a key (a registry built without one): it can always append.
        A test that restarts such a registry over the same database gets a new key, and the
        earlier records stop verifying through it.
        """
        return cls(Keyring(keys={1: new_secret()}, current=1, source="a throwaway audit key"))

    def load(self) -> Keyring | None:
        """The keyring, or None before :meth:`create`."""
        return self._keyring

    def create(self) -> Keyring:
        """Make epoch 1 (or return the keyring made already)."""
        with self._lock:
            if self._keyring is None:
                self._keyring = Keyring(keys={1: new_secret()}, current=1, source=self.source)
            return self._keyring

    def rotate(self) -> Keyring:
        """Add a new, current epoch.

        Raises:
            AuditKeyError: there is no key yet.
        """
        with self._lock:
            if self._keyring is None:
                raise AuditKeyError("There is no audit key to rotate yet")
            self._keyring = self._keyring.rotated(new_secret())
            return self._keyring
