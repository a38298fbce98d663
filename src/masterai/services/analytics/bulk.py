"""Read query results from the store in bulk, as Arrow or Parquet, through ADBC drivers.

The analytics copy is built from these reads. Through the DB-API driver every value of a
million messages becomes a Python ``datetime``/``str``/``int`` before DuckDB sees it, which is
what made the first build of the copy slower than ``pandas.read_sql``. Here no Python object is
made per value:

- PostgreSQL: the ADBC PostgreSQL driver runs ``COPY (query) TO STDOUT (FORMAT binary)`` and
  fills Arrow arrays, which DuckDB scans through the Arrow C stream interface in this process
  (``adbc_driver_manager``'s low-level API: no pyarrow).
- SQLite: the ADBC SQLite driver steps through the rows in C, in a child process (see
  :mod:`.sqlite_export` for why not in this process). For a new copy the child writes the new
  DuckDB file itself (:func:`build_file`); for other large reads each child writes its rows to
  a Parquet file this process's DuckDB reads (:func:`bulk_sources`).

SQLite types each value, and the ADBC driver infers a column's Arrow type from the first batch
of rows: a nullable text column whose first batch is all NULL is taken for integers and the
read fails at the first text value. Queries keep such columns non-null and add a null flag
(``copy._source_select``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb
from sqlalchemy.engine import make_url

from masterai.services.analytics.scope import sql_literal
from masterai.services.errors import InvalidInputError, ServiceError
from masterai.store import Database

_EXPORT_SCRIPT = Path(__file__).with_name("sqlite_export.py")


class BulkReadError(ServiceError):
    """A bulk read of the store failed (the message names the store and the cause)."""


@contextmanager
def bulk_sources(
    database: Database, queries: Sequence[str], con: duckdb.DuckDBPyConnection
) -> Iterator[list[str]]:
    """Run ``queries`` on the store and yield DuckDB table expressions that read their rows.

    On SQLite the queries run at once, one export process each writing a Parquet file (a
    table split by id ranges is read on every core); on PostgreSQL they run one after another
    as one ``UNION ALL`` over one connection. Each expression is valid in ``con`` until the
    block ends and is meant to be read once; together they hold every query's rows.

    Args:
        database: The store (a SQLite file or PostgreSQL).
        queries: Queries with every value inlined (no parameters), of the same columns.
        con: The DuckDB connection that will read the rows.

    Raises:
        InvalidInputError: the store is an in-memory SQLite database.
        BulkReadError: the driver or an export process failed.
    """
    if database.dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="masterai-bulk-") as tmp:
            targets = [Path(tmp) / f"rows-{i}.parquet" for i in range(len(queries))]
            _run_sqlite(
                database,
                [
                    (
                        {"source_rows": sql},
                        [
                            "COPY (SELECT * FROM source_rows) "
                            f"TO {sql_literal(str(target))} (FORMAT parquet)"
                        ],
                        ":memory:",
                    )
                    for sql, target in zip(queries, targets, strict=True)
                ],
            )
            yield [f"read_parquet({sql_literal(str(t))})" for t in targets]
        return
    union = " UNION ALL ".join(f"({q})" for q in queries)
    with _postgres_stream(database, union) as stream:
        con.register("bulk_rows", stream)
        try:
            yield ["bulk_rows"]
        finally:
            con.unregister("bulk_rows")


def build_file(
    database: Database, target: Path, sources: Mapping[str, str], statements: Sequence[str]
) -> None:
    """Create the DuckDB file ``target`` by running ``statements`` over the store's rows.

    Each query of ``sources`` runs on the store, over a connection of its own, and its rows
    are readable by the statements as the table named by its key, read once as they arrive:
    no intermediate file. On SQLite this runs in one export process, which writes ``target``
    itself; on PostgreSQL in this process. ``target`` must not exist; when this fails, it does
    not exist afterwards either.

    Raises:
        InvalidInputError: the store is an in-memory SQLite database.
        BulkReadError: the driver, the export process or a statement failed.
    """
    try:
        if database.dialect == "sqlite":
            _run_sqlite(database, [(dict(sources), list(statements), str(target))])
            return
        con = duckdb.connect(str(target))
        with ExitStack() as stack, con:
            for name, sql in sources.items():
                con.register(name, stack.enter_context(_postgres_stream(database, sql)))
            for statement in statements:
                con.execute(statement)
    except duckdb.Error as exc:
        _remove(target)
        raise BulkReadError(f"bulk read of {database.display_url} failed: {exc}") from exc
    except BaseException:
        _remove(target)
        raise


def _remove(target: Path) -> None:
    for path in (target, target.with_name(target.name + ".wal")):
        path.unlink(missing_ok=True)


_Job = tuple[dict[str, str], list[str], str]
"""One export process's work: sources, statements, DuckDB database (see sqlite_export)."""


def _run_sqlite(database: Database, jobs: list[_Job]) -> None:
    """Run ``jobs`` at once, one export process each, and wait for all of them."""
    path = make_url(database.url).database
    if not path or path == ":memory:":
        raise InvalidInputError(
            f"the analytics copy cannot read the in-memory SQLite store {database.url!r}: "
            "use a file (sqlite:///PATH) or PostgreSQL"
        )
    processes: list[subprocess.Popen[str]] = []
    try:
        for sources, statements, target in jobs:
            process = subprocess.Popen(
                [sys.executable, "-I", str(_EXPORT_SCRIPT), path, target],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            processes.append(process)
            assert process.stdin is not None
            # A few kilobytes: fits the pipe's buffer, so writing it never blocks.
            process.stdin.write(json.dumps({"sources": sources, "statements": statements}))
            process.stdin.close()
        errors = [_wait(process) for process in processes]
    except BaseException:
        for process in processes:
            process.kill()
            process.wait()
        raise
    failed = next((e for e in errors if e is not None), None)
    if failed is not None:
        raise BulkReadError(f"bulk read of {database.display_url} failed: {failed}")


def _wait(process: subprocess.Popen[str]) -> str | None:
    """Wait for an export process; its last line of error output if it failed.

    No timeout: the export only reads, and SQLite answers a locked file with an error
    instead of waiting (no busy timeout is set).
    """
    assert process.stderr is not None
    err = process.stderr.read()  # until the process exits: it writes at most a line
    process.stderr.close()
    if process.wait() == 0:
        return None
    lines = err.strip().splitlines()
    return lines[-1] if lines else f"exit status {process.returncode}"


@contextmanager
def _postgres_stream(database: Database, sql: str) -> Iterator[object]:
    import adbc_driver_manager as adbc  # imported on a first build only: warm calls skip it
    import adbc_driver_postgresql

    # libpq takes the URL without SQLAlchemy's "+driver" part.
    uri = make_url(database.url).set(drivername="postgresql")
    try:
        db = adbc_driver_postgresql.connect(uri.render_as_string(hide_password=False))
    except adbc.Error as exc:
        raise BulkReadError(f"bulk read of {database.display_url} failed: {exc}") from exc
    try:
        conn = adbc.AdbcConnection(db)
        try:
            statement = adbc.AdbcStatement(conn)
            try:
                statement.set_sql_query(sql)
                stream, _rows = statement.execute_query()
                yield stream
            finally:
                statement.close()
        finally:
            conn.close()
    finally:
        db.close()
