"""Write one SQLite query's result to a Parquet file; run as a separate process.

    python sqlite_export.py DATABASE_PATH OUTPUT_PATH < QUERY

Run by path (not ``-m``) so the process imports only DuckDB and the ADBC SQLite driver, not
Master AI. Why a process of its own: the ADBC driver links its own copy of the SQLite library,
and two copies of SQLite in one process must not open the same database file. POSIX locks
belong to the process, so closing one copy's file releases the other copy's locks, and one
copy does not see the other's connections: on close it checkpoints and truncates the WAL the
store's connections still use (SQLite's "How To Corrupt" page, multiple copies of SQLite; it
lost committed rows when tried here). In a process of its own the driver is just another
reader, and the database is opened read-only.

Exit status 0 on success; otherwise 1 with the error on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

_BATCH_ROWS = 65_536
"""Rows per Arrow batch (the driver's default, 1,024, costs a round trip per batch)."""


def export(database_path: str, output_path: str, query: str) -> None:
    """Run ``query`` on the SQLite file read-only and write the rows to ``output_path``."""
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite
    import duckdb

    uri = Path(database_path).resolve().as_uri() + "?mode=ro"
    db = adbc_driver_sqlite.connect(uri)
    try:
        conn = adbc.AdbcConnection(db)
        try:
            statement = adbc.AdbcStatement(conn)
            try:
                statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
                statement.set_sql_query(query)
                stream, _rows = statement.execute_query()
                out = duckdb.connect()
                out.register("source_rows", stream)
                target = output_path.replace("'", "''")
                out.execute(f"COPY (SELECT * FROM source_rows) TO '{target}' (FORMAT parquet)")
                out.close()
            finally:
                statement.close()
        finally:
            conn.close()
    finally:
        db.close()


def main() -> int:
    """Command-line entry: arguments and query as in the module docstring."""
    if len(sys.argv) != 3:
        print("usage: sqlite_export.py DATABASE_PATH OUTPUT_PATH < QUERY", file=sys.stderr)
        return 2
    try:
        export(sys.argv[1], sys.argv[2], sys.stdin.read())
    except Exception as exc:  # reported to the parent, which names the store
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
