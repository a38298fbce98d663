"""``query_database``: read-only queries on the connections named in settings.

Read-only is enforced three ways, each enough on its own for the common cases:

1. the statement is checked and re-rendered (:func:`~.sqlcheck.check_read_only`);
2. it runs in a read-only transaction: ``SET TRANSACTION READ ONLY`` (PostgreSQL),
   ``START TRANSACTION READ ONLY`` (MySQL/MariaDB), a SQLite file opened with ``mode=ro``;
   the transaction is always rolled back;
3. a statement timeout: ``SET LOCAL statement_timeout`` (PostgreSQL), ``max_statement_time``
   (MariaDB) or ``MAX_EXECUTION_TIME`` (MySQL), a progress handler (SQLite).

At most ``max_rows`` rows come back (capped by ``integrations.max_rows``), with column names
and types. Connection URLs (with their passwords) never appear in results or messages.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import importlib
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError
from masterai.services.integrations.sqlcheck import CheckedQuery, check_read_only
from masterai.settings import IntegrationsSettings

_PARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CONNECT_TIMEOUT = 10


class QueryTimeout(ServiceError):
    """The statement ran past the statement timeout and was cancelled."""


@dataclass(frozen=True, kw_only=True)
class QueryResult:
    """Rows of one query, with column names and types."""

    connection: str
    columns: list[dict[str, str]]
    """``{"name": ..., "type": ...}`` per column."""
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    """More rows existed than ``max_rows``."""
    elapsed_ms: float
    statement: str
    """What ran (after the check's re-rendering)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class ConnectionHealth:
    """What ``integrations check-db`` reports."""

    connection: str
    dialect: str
    ok: bool
    server_version: str | None
    latency_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return dict(self.__dict__)


class DatabaseService:
    """Read-only queries on named connections (see the module docstring)."""

    def __init__(self, settings: IntegrationsSettings) -> None:
        self._settings = settings

    def names(self) -> list[str]:
        """The configured connection names."""
        return sorted(self._settings.connections)

    def dialect(self, connection: str) -> str:
        """``postgresql``, ``mysql`` or ``sqlite`` for a configured connection."""
        return self._url(connection).get_backend_name().replace("mariadb", "mysql")

    def query(
        self,
        connection: str,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_rows: int | None = None,
    ) -> QueryResult:
        """Run one read-only statement (blocking; run it in a worker thread).

        Raises:
            NotFoundError: unknown connection.
            InvalidInputError: the statement is not read-only, or parameters do not match.
            QueryTimeout: it ran past ``integrations.statement_timeout``.
            ServiceError: the database refused it or could not be reached.
        """
        limit = self._max_rows(max_rows)
        dialect = self.dialect(connection)
        style = "named" if dialect == "sqlite" else "pyformat"
        checked = check_read_only(query, dialect, row_limit=limit + 1, paramstyle=style)
        bound = _parameters(checked, parameters or {})
        started = time.perf_counter()
        with self._connect(connection) as (raw, kind):
            cursor = raw.cursor()
            try:
                self._begin(raw, cursor, kind)
                try:
                    if bound:
                        cursor.execute(checked.sql, bound)
                    else:  # no parameters: the driver must not read '%' as a placeholder
                        cursor.execute(checked.sql)
                    fetched = cursor.fetchmany(limit + 1) if cursor.description else []
                except Exception as e:
                    raise self._translate(e, kind) from None
                description = list(cursor.description or [])
            finally:
                _quietly(cursor.close)
                _quietly(raw.rollback)
        rows = [[_plain(v) for v in row] for row in fetched[:limit]]
        return QueryResult(
            connection=connection,
            columns=[
                {"name": str(d[0]), "type": _type_name(kind, raw, d[1], rows, i)}
                for i, d in enumerate(description)
            ],
            rows=rows,
            row_count=len(rows),
            truncated=len(fetched) > limit,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            statement=checked.sql,
        )

    def check(self, connection: str) -> ConnectionHealth:
        """Connect, open a read-only transaction, ask for the server version."""
        dialect = self.dialect(connection)
        started = time.perf_counter()
        try:
            with self._connect(connection) as (raw, kind):
                cursor = raw.cursor()
                try:
                    self._begin(raw, cursor, kind)
                    cursor.execute(
                        "SELECT sqlite_version()" if kind == "sqlite" else "SELECT version()"
                    )
                    version = str(cursor.fetchone()[0])
                finally:
                    _quietly(cursor.close)
                    _quietly(raw.rollback)
        except ServiceError as e:
            return ConnectionHealth(
                connection=connection,
                dialect=dialect,
                ok=False,
                server_version=None,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                error=str(e),
            )
        return ConnectionHealth(
            connection=connection,
            dialect=dialect,
            ok=True,
            server_version=version,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    # --- helpers ----------------------------------------------------------------------

    def _max_rows(self, max_rows: int | None) -> int:
        cap = self._settings.max_rows
        if max_rows is None:
            return min(self._settings.default_rows, cap)
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise InvalidInputError(f"max_rows must be a positive integer, got {max_rows!r}")
        return min(max_rows, cap)

    def _url(self, connection: str) -> URL:
        secret = self._settings.connections.get(connection)
        if secret is None:
            known = ", ".join(sorted(self._settings.connections)) or "none configured"
            raise NotFoundError(
                f"unknown database connection {connection!r}; known: {known} "
                "(MASTERAI_INTEGRATIONS__CONNECTIONS)"
            )
        try:
            url = make_url(secret.get_secret_value())
        except ArgumentError:
            raise ServiceError(
                f"database connection {connection!r} is not a valid SQLAlchemy URL"
            ) from None
        if url.get_backend_name() not in ("postgresql", "mysql", "mariadb", "sqlite"):
            raise ServiceError(
                f"database connection {connection!r} is {url.get_backend_name()!r}; supported: "
                "postgresql, mysql/mariadb, sqlite"
            )
        return url

    @contextmanager
    def _connect(self, connection: str) -> Iterator[tuple[Any, str]]:
        """A raw DB-API connection and its kind (``postgresql``, ``mariadb``, ``mysql``, ...)."""
        url = self._url(connection)
        backend = url.get_backend_name()
        try:
            raw, kind = _open(url, backend, self._settings.statement_timeout)
        except Exception as e:
            # The driver's message names host and database, never the password.
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ServiceError(f"cannot connect to {connection!r}: {first}") from None
        try:
            yield raw, kind
        finally:
            _quietly(raw.close)

    def _begin(self, raw: Any, cursor: Any, kind: str) -> None:
        """Start the read-only transaction with its statement timeout."""
        timeout = self._settings.statement_timeout
        if kind == "postgresql":
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
        elif kind == "mariadb":
            cursor.execute(f"SET SESSION max_statement_time = {timeout:.3f}")
            cursor.execute("START TRANSACTION READ ONLY")
        elif kind == "mysql":
            cursor.execute(f"SET SESSION MAX_EXECUTION_TIME = {int(timeout * 1000)}")
            cursor.execute("START TRANSACTION READ ONLY")
        else:
            deadline = time.monotonic() + timeout
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)

    def _translate(self, error: Exception, kind: str) -> ServiceError:
        text = str(error).strip()
        first = text.splitlines()[0] if text else type(error).__name__
        timeout = self._settings.statement_timeout
        cancelled = (
            "canceling statement due to statement timeout" in text
            or "max_statement_time" in text
            or "maximum statement execution time" in text.lower()
            or (kind == "sqlite" and text == "interrupted")
        )
        if cancelled:
            return QueryTimeout(
                f"the query ran longer than the statement timeout of {timeout:g}s and was "
                "cancelled (integrations.statement_timeout)"
            )
        if "read-only" in text.lower() or "readonly" in text.lower():
            return ServiceError(f"the database refused a write in a read-only query: {first}")
        return ServiceError(f"the database refused the query: {first}")


def _open(url: URL, backend: str, timeout: float) -> tuple[Any, str]:
    if backend == "sqlite":
        path = url.database or ""
        if not path or path == ":memory:":
            raise ValueError("a SQLite connection must name a database file")
        # mode=ro: the file is opened read-only whatever the statement tries.
        raw = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=timeout, check_same_thread=False
        )
        return raw, "sqlite"
    if backend == "postgresql":
        import psycopg

        options: dict[str, Any] = {str(k): str(v) for k, v in url.query.items()}
        pg = psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=_CONNECT_TIMEOUT,
            **options,
        )
        return pg, "postgresql"
    pymysql: Any = importlib.import_module("pymysql")  # no type stubs
    my = pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.database,
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=int(timeout) + 30,  # a backstop behind the server's own timeout
        autocommit=False,
    )
    server = str(my.get_server_info())
    return my, "mariadb" if "mariadb" in server.lower() else "mysql"


def _parameters(checked: CheckedQuery, given: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise InvalidInputError("'parameters' must be an object of name -> value")
    for name, value in given.items():
        if not _PARAMETER.match(name):
            raise InvalidInputError(f"invalid parameter name {name!r}: letters, digits, '_'")
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise InvalidInputError(
                f"parameter {name!r} must be a string, number, boolean or null; got "
                f"{type(value).__name__}"
            )
    missing = sorted(checked.parameters - set(given))
    if missing:
        raise InvalidInputError(f"the query uses :{missing[0]} but 'parameters' has no value")
    unused = sorted(set(given) - checked.parameters)
    if unused:
        raise InvalidInputError(f"parameter {unused[0]!r} is not used by the query")
    return dict(given)


def _plain(value: Any) -> Any:
    """A JSON-ready form of a column value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _type_name(kind: str, raw: Any, code: Any, rows: list[list[Any]], index: int) -> str:
    """The column's type: the server's name when the driver gives one, else from values."""
    if kind == "postgresql" and isinstance(code, int):
        info = raw.adapters.types.get(code)
        if info is not None:
            return str(info.name)
    if kind in ("mysql", "mariadb") and isinstance(code, int):
        field_type = importlib.import_module("pymysql.constants.FIELD_TYPE")
        names = {v: k.lower() for k, v in vars(field_type).items() if k.isupper()}
        if code in names:
            return names[code]
    sample = next((r[index] for r in rows if r[index] is not None), None)
    kinds = {bool: "boolean", int: "integer", float: "real", str: "text"}
    return kinds.get(type(sample), "null" if sample is None else type(sample).__name__)


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception:
        return
