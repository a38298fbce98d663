"""Run the Alembic migrations packaged in ``masterai/store/migrations`` programmatically.

There is no ``alembic.ini``: the configuration is built here, so migrations run the same from
the CLI (``masterai db upgrade``), the API server and tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from masterai.store.errors import MigrationError

if TYPE_CHECKING:
    from masterai.store.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database: Database) -> Config:
    """An Alembic ``Config`` for ``database`` pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is Alembic's interpolation character; URLs may contain it (escaped passwords).
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    config.attributes["database"] = database
    return config


def head_revision() -> str:
    """The newest revision among the packaged migrations."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None
    return head


def upgrade(database: Database, revision: str = "head") -> None:
    """Migrate ``database`` up to ``revision``."""
    config = alembic_config(database)
    try:
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except MigrationError:
        raise
    except Exception as e:
        raise MigrationError(f"Could not migrate {database!r} to {revision!r}: {e}") from e


def current_revision(database: Database) -> str | None:
    """The revision ``database`` is at (None before the first migration)."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
