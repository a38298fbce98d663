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
from sqlalchemy.exc import OperationalError

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
    except OperationalError as e:
        raise MigrationError(
            f"Cannot open the database {database.display_url}: {_one_line(e)}"
        ) from e
    except Exception as e:
        raise MigrationError(
            f"Could not migrate {database.display_url} to {revision!r}: {_one_line(e)}"
        ) from e


def _one_line(error: Exception) -> str:
    """The driver's message on one line, without SQLAlchemy's background link."""
    text = str(getattr(error, "orig", None) or error)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def current_revision(database: Database) -> str | None:
    """The revision ``database`` is at (None before the first migration)."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
