"""The store: SQLAlchemy 2 models, the :class:`Database` (engine + sessions) and migrations.

Entry points: :class:`Database` (``.session()``, ``.upgrade()``), :func:`open_database`
(settings -> migrated database, created on first use), and the models in
:mod:`masterai.store.models`. See ``README.md`` beside this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from masterai.store.database import Database, normalize_url
from masterai.store.errors import MigrationError, StoreConfigError, StoreError
from masterai.store.models import Base

if TYPE_CHECKING:
    from masterai.settings import Settings

__all__ = [
    "Base",
    "Database",
    "MigrationError",
    "StoreConfigError",
    "StoreError",
    "normalize_url",
    "open_database",
]


def open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    """The database ``settings`` select, migrated to the newest schema when ``upgrade``.

    With no ``MASTERAI_DATABASE_URL`` this creates ``<MASTERAI_HOME>/masterai.db`` on first use.
    """
    database = Database.from_settings(settings)
    if upgrade:
        database.upgrade()
    return database
