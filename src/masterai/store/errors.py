"""Errors of the store.

```
StoreError
├── StoreConfigError      bad or unsupported database URL
└── MigrationError        migrations could not be applied
```
"""

from __future__ import annotations


class StoreError(Exception):
    """Root of the store's errors."""


class StoreConfigError(StoreError):
    """The database URL is malformed or names an unsupported database."""


class MigrationError(StoreError):
    """Applying the Alembic migrations failed."""
