"""Runs the ``sql`` language inside the sandbox with DuckDB (embedded, in-memory).

Input files in the working directory (``.csv``, ``.tsv``, ``.json``, ``.jsonl``, ``.parquet``)
are loaded first as tables named after the file (``sales.csv`` -> ``sales``). Every statement
that returns rows prints them as CSV with a header, result sets separated by a blank line.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from typing import Any

import duckdb

READERS = {
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".json": "read_json_auto",
    ".jsonl": "read_json_auto",
    ".ndjson": "read_json_auto",
    ".parquet": "read_parquet",
}

# Statements whose result is only a count of rows changed: not printed.
SILENT = {"INSERT", "UPDATE", "DELETE", "CREATE", "CREATE_FUNC", "DROP", "ALTER", "COPY"}
SILENT |= {"TRANSACTION", "ATTACH", "DETACH", "SET", "VARIABLE_SET", "LOAD", "ANALYZE"}


def table_name(file_name: str) -> str:
    """A SQL identifier from a file name: ``my data.csv`` -> ``my_data``."""
    stem = os.path.splitext(file_name)[0]
    name = re.sub(r"\W", "_", stem)
    return name if name and not name[0].isdigit() else f"t_{name}"


def load_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """Create one table per readable input file in the working directory."""
    for entry in sorted(os.listdir(".")):
        reader = READERS.get(os.path.splitext(entry)[1].lower())
        if reader is None or not os.path.isfile(entry):
            continue
        quoted = entry.replace("'", "''")
        con.execute(f"CREATE TABLE \"{table_name(entry)}\" AS SELECT * FROM {reader}('{quoted}')")


def main(path: str) -> int:
    """Run every statement of the file at ``path``; exit status 1 on the first error."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "home_directory": "/tmp",
            "temp_directory": "/tmp/duckdb",
        },
    )
    out = csv.writer(sys.stdout, lineterminator="\n")
    try:
        load_inputs(con)
        first = True
        for statement in con.extract_statements(text):
            rel = con.execute(statement)
            description: list[Any] | None = rel.description
            if description is None or statement.type.name in SILENT:
                continue
            if not first:
                sys.stdout.write("\n")
            first = False
            out.writerow([d[0] for d in description])
            out.writerows(rel.fetchall())
    except duckdb.Error as e:
        sys.stdout.flush()
        print(f"SQL error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
