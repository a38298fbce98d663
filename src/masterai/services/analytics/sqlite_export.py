"""Run DuckDB statements over SQLite query results read with ADBC; run as a separate process.

    python sqlite_export.py DATABASE_PATH DUCKDB_PATH < JOB

JOB is a JSON object ``{"sources": {NAME: SQLITE_QUERY, ...}, "statements": [SQL, ...]}``:
each query runs on the SQLite file (read-only) and its rows are readable as table NAME by the
statements, which run in order in the DuckDB database DUCKDB_PATH (``:memory:`` for none).
The parent uses it to write rows to Parquet, or to build a whole analytics copy in a new file.

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

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

_BATCH_ROWS = 65_536
"""Rows per Arrow batch (the driver's default, 1,024, costs a round trip per batch)."""


def run(database_path: str, duckdb_path: str, job: dict[str, Any]) -> None:
    """Open the job's sources on the SQLite file read-only and run its statements."""
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite
    import duckdb

    uri = Path(database_path).resolve().as_uri() + "?mode=ro"
    out = duckdb.connect(duckdb_path)
    # DuckDB lets go of the streams (closed last) before their statements are closed.
    with ExitStack() as stack, out:
        for name, query in job["sources"].items():
            # One connection per source: each stream keeps its statement open until read.
            db = adbc_driver_sqlite.connect(uri)
            stack.callback(db.close)
            conn = adbc.AdbcConnection(db)
            stack.callback(conn.close)
            statement = adbc.AdbcStatement(conn)
            stack.callback(statement.close)
            statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
            statement.set_sql_query(query)
            stream, _rows = statement.execute_query()
            out.register(name, stream)
        for sql in job["statements"]:
            out.execute(sql)


def main() -> int:
    """Command-line entry: arguments and job as in the module docstring."""
    if len(sys.argv) != 3:
        print("usage: sqlite_export.py DATABASE_PATH DUCKDB_PATH < JOB", file=sys.stderr)
        return 2
    try:
        run(sys.argv[1], sys.argv[2], json.loads(sys.stdin.read()))
    except Exception as exc:  # reported to the parent, which names the store
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
