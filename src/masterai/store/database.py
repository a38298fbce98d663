"""Engine and session factory: :class:`Database` (SQLite WAL by default, PostgreSQL by URL)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from masterai.store.errors import StoreConfigError

if TYPE_CHECKING:
    from masterai.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock before failing (WAL allows one writer)."""

_IMMEDIATE = "masterai_begin_immediate"

HEAD_REVISION = "0015"
"""The newest packaged migration (a test checks it against Alembic's head)."""


def normalize_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver for plain ``postgresql://`` URLs.

    Raises:
        StoreConfigError: the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreConfigError(
            f"Invalid database URL {url!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DB"
        ) from e
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres") and parsed.get_driver_name() in ("psycopg2", ""):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise StoreConfigError(
            f"Unsupported database {backend!r} in {url!r}: use sqlite or postgresql"
        )
    return parsed.render_as_string(hide_password=False)


class Database:
    """One database: a lazily created engine, sessions, and migrations.

    Construction does no I/O; the engine (and for SQLite the parent directory of the file)
    is created on first use.

    Example:
        >>> db = Database("sqlite:///" + str(tmp / "m.db"))  # doctest: +SKIP
        >>> db.upgrade()  # doctest: +SKIP
        >>> with db.session() as s:  # doctest: +SKIP
        ...     s.add(Company(id="acme", name="Acme"))
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self._echo = echo
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database selected by ``settings`` (``MASTERAI_DATABASE_URL`` or SQLite)."""
        return cls(settings.resolved_database_url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return make_url(self.url).get_backend_name()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first access."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
                    # Close pooled connections when this object is collected, so a
                    # forgotten dispose() never leaves server connections open.
                    weakref.finalize(self, self._engine.dispose)
        return self._engine

    def _create_engine(self) -> Engine:
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite":
            return create_engine(url, echo=self._echo, pool_pre_ping=True)
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=self._echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    @contextmanager
    def session(self, *, immediate: bool = False) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises.

        Args:
            immediate: take the write lock at the start of the transaction. On SQLite this
                is ``BEGIN IMMEDIATE``, so a read-then-write block (like appending to the
                audit chain) cannot be overtaken by another writer; on PostgreSQL it has no
                effect (use row or advisory locks there).
        """
        if self._sessionmaker is None:
            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        with self._sessionmaker() as session:
            if immediate:
                session.connection(execution_options=cast(Any, {_IMMEDIATE: True}))
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to ``revision`` (idempotent).

        A database already at :data:`HEAD_REVISION` costs one query: the migration machinery
        (Alembic) is not even imported.
        """
        if revision == "head" and self._at_head():
            return
        from masterai.store.migrate import upgrade

        upgrade(self, revision)

    def _at_head(self) -> bool:
        try:
            with self.engine.connect() as connection:
                row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        except DBAPIError:  # no version table yet, or the server cannot be reached
            return False
        return row is not None and row[0] == HEAD_REVISION

    def current_revision(self) -> str | None:
        """The migration revision the database is at, or None if never migrated."""
        from masterai.store.migrate import current_revision

        return current_revision(self)

    def table_names(self) -> list[str]:
        """Names of the tables that exist in the database."""
        return sorted(inspect(self.engine).get_table_names())

    def dispose(self) -> None:
        """Close every pooled connection (call before deleting the database)."""
        if self._engine is not None:
            self._engine.dispose()

    @property
    def display_url(self) -> str:
        """The URL with any password masked (for messages and logs)."""
        return make_url(self.url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would defer BEGIN until the first write, so a
    # read-then-write transaction could see stale data; SQLAlchemy emits BEGIN itself instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
