"""A columnar (DuckDB) copy of conversations and messages, kept in step with the store.

Analytics reads this copy instead of the store: scanning a million messages through the
SQLite or PostgreSQL driver costs seconds, while DuckDB answers from its own columnar file in
milliseconds. Before every use the copy compares a cheap fingerprint of the store (highest
message id; conversation count and sums of the outcome columns) with the one it recorded; when
they differ it also compares 32 sampled messages by id, then

- copies only messages above its watermark, the highest message id it has, and up to the
  highest id the fingerprint saw (appends, the common case: imports), and recomputes the
  per-conversation aggregates of the conversations they belong to;
- reloads the conversations table (new conversations, or an outcome such as ``resolved`` or
  ``satisfaction`` updated);
- rebuilds everything when conversations disappeared, the highest id went down, or sampled
  messages differ (rows replaced, e.g. SQLite reusing ids after a delete).

Not detected: messages deleted or edited in place while no conversation changes (the
platform only appends messages); ``AnalyticsService.refresh(rebuild=True)`` forces a rebuild.

Reads of more than ``_BULK_ROWS`` rows (a first build, a large import) go in bulk through ADBC
drivers into Arrow and DuckDB without a Python object per value (:mod:`.bulk`); smaller
SQLite reads go through the store's own driver, which costs less than the export process.

The file lives under ``<home>/analytics/`` named after a hash of the database URL, so one home
can serve several databases. DuckDB lets one process write a file: if another process holds
it, this process falls back to an in-memory copy (correct, only slower).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import sqlalchemy as sa

if TYPE_CHECKING:
    import pandas as pd

from masterai.services.analytics.bulk import build_file, bulk_sources
from masterai.services.analytics.scope import sql_literal
from masterai.store import Database

_SAMPLES = 32
_SCHEMA_VERSION = 4  # 4: timestamps to the microsecond (bulk read); older copies rebuild

_DDL = """
CREATE TABLE IF NOT EXISTS conversations (
    id VARCHAR, company_id VARCHAR, config_version INTEGER, channel VARCHAR, model VARCHAR,
    started_at TIMESTAMP, ended_at TIMESTAMP, resolved BOOLEAN, escalated BOOLEAN,
    satisfaction INTEGER, user_ref VARCHAR
);
CREATE TABLE IF NOT EXISTS messages (
    id BIGINT, conversation_id VARCHAR, company_id VARCHAR, seq INTEGER, role VARCHAR,
    content VARCHAR, created_at TIMESTAMP, latency_ms INTEGER, prompt_tokens BIGINT,
    completion_tokens BIGINT, cost_usd DOUBLE, model VARCHAR, is_fallback BOOLEAN,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS conversation_stats (
    conversation_id VARCHAR, messages BIGINT, turns BIGINT, tokens BIGINT, cost DOUBLE,
    had_fallback BOOLEAN, had_error BOOLEAN, max_latency INTEGER
);
CREATE TABLE IF NOT EXISTS sync_state (key VARCHAR PRIMARY KEY, value VARCHAR);
"""

# Messages get their conversation's company_id, so per-company queries need no join. With
# ``build_side_probe_side`` off DuckDB builds its hash table of the conversations as written: an
# Arrow stream has no row count, and it would otherwise pick the million incoming messages.
_MESSAGES_INSERT = (
    "INSERT INTO messages BY NAME SELECT incoming.*, c.company_id "
    "FROM {incoming} incoming LEFT JOIN conversations c ON c.id = incoming.conversation_id"
)
_NO_BUILD_SIDE_SWAP = "SET disabled_optimizers = 'build_side_probe_side'"
_OPTIMIZERS_RESET = "RESET disabled_optimizers"

# Per-conversation aggregates of messages, kept beside the copy so conversation-level metrics
# need no pass over every message. ``{where}`` restricts which conversations are (re)computed.
_STATS = """
INSERT INTO conversation_stats
SELECT conversation_id, count(*), count(*) FILTER (WHERE role = 'user'),
    sum(prompt_tokens + completion_tokens), sum(cost_usd), bool_or(is_fallback),
    bool_or(error IS NOT NULL), max(latency_ms)
FROM messages WHERE {where} GROUP BY conversation_id
"""

# Each column and its kind: ``text``, ``int``, ``real``, ``bool`` or ``time``; ``?`` marks a
# nullable column where it matters for reading (SQLite text, see ``_source_select``).
_CONVERSATION_COLUMNS = {
    "id": "text",
    "company_id": "text",
    "config_version": "int",
    "channel": "text?",
    "model": "text?",
    "started_at": "time",
    "ended_at": "time?",
    "resolved": "bool",
    "escalated": "bool",
    "satisfaction": "int",
    "user_ref": "text?",
}
_MESSAGE_COLUMNS = {
    "id": "int",
    "conversation_id": "text",
    "seq": "int",
    "role": "text",
    "content": "text",
    "created_at": "time",
    "latency_ms": "int",
    "prompt_tokens": "int",
    "completion_tokens": "int",
    "cost_usd": "real",
    "model": "text?",
    "is_fallback": "bool",
    "error": "text?",
}
_BULK_ROWS = 50_000
"""A read of more rows than this goes in bulk (see ``_load``); fewer, through the driver."""
_READERS = max(1, min(4, os.cpu_count() or 1))
"""Export processes reading a large SQLite range at once, or PostgreSQL connections reading a
new copy's messages (one per core, at most four)."""
_NULL_FLAG = "__null"
_DUCK_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
    "time": "TIMESTAMP",
}


_LOCKS: dict[Path | None, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path | None) -> threading.Lock:
    """One lock per copy file in this process: services sharing a file refresh in turn."""
    if path is None:
        return threading.Lock()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path.absolute(), threading.Lock())


@dataclass(frozen=True, kw_only=True)
class Fingerprint:
    """Cheap summary of the store's analytics tables; a change means the copy is stale."""

    max_message_id: int
    conversations: tuple[int, ...]
    """Count, then sums of outcome columns (resolved, escalated, ratings, ended)."""


@dataclass(frozen=True, kw_only=True)
class SyncReport:
    """What one refresh of the copy did."""

    messages_added: int
    conversations_reloaded: bool
    rebuilt: bool


def _bool_expr(column: str) -> str:
    return f"CASE WHEN {column} THEN 1 ELSE 0 END"


def _source_select(dialect: str, columns: dict[str, str], prefix: str) -> str:
    """The store-side select list for ``columns``: plain columns, converted by DuckDB.

    PostgreSQL hands over typed columns (timestamps as UTC ``timestamp``). SQLite's are read
    as stored (timestamps as text); a nullable text or time column is read as text plus a null
    flag, because the ADBC SQLite driver takes a first batch of NULLs for integers.
    """
    parts = []
    for name, kind in columns.items():
        col = f"{prefix}.{name}"
        if dialect != "sqlite":
            parts.append(
                f"({col} AT TIME ZONE 'UTC') AS {name}" if kind.startswith("time") else col
            )
        elif kind in ("text?", "time?"):
            parts.append(f"ifnull({col}, '') AS {name}, {col} IS NULL AS {name}{_NULL_FLAG}")
        else:
            parts.append(col)
    return ", ".join(parts)


def _sqlite_time(column: str) -> str:
    """DuckDB SQL for a timestamp stored by SQLite as text, as a UTC ``TIMESTAMP``.

    The store writes UTC without an offset; text with an offset (written by other means) is
    converted to UTC rather than having the offset dropped.
    """
    return (
        f"CASE WHEN regexp_matches({column}, '(Z|[+-][0-9][0-9](:?[0-9][0-9])?)$') "
        f"THEN timezone('UTC', CAST({column} AS TIMESTAMPTZ)) "
        f"ELSE CAST({column} AS TIMESTAMP) END"
    )


def _duck_select(dialect: str, columns: dict[str, str], prefix: str) -> str:
    """DuckDB expressions turning the rows read from the store into the copy's types.

    Every column is cast: an empty SQLite result comes with every column typed as integer.
    """
    parts = []
    for name, kind in columns.items():
        col = f"{prefix}.{name}"
        base = kind.rstrip("?")
        value = _sqlite_time(col) if base == "time" and dialect == "sqlite" else col
        value = f"CAST({value} AS {_DUCK_TYPES[base]})"
        if kind.endswith("?") and dialect == "sqlite":
            value = f"CASE WHEN {col}{_NULL_FLAG} <> 0 THEN NULL ELSE {value} END"
        parts.append(f"{value} AS {name}")
    return ", ".join(parts)


class AnalyticsCopy:
    """The DuckDB copy of one store's conversations and messages.

    Args:
        database: The store (SQLite or PostgreSQL); its engine is first used on refresh.
        directory: Where the DuckDB file lives; ``None`` keeps the copy in memory only.
    """

    def __init__(self, database: Database, directory: Path | None) -> None:
        self._database = database
        self._path: Path | None = None
        if directory is not None:
            digest = hashlib.sha256(database.url.encode()).hexdigest()[:16]
            self._path = directory / f"copy-{digest}.duckdb"
        self._lock = _lock_for(self._path)
        self._memory: duckdb.DuckDBPyConnection | None = None
        self._dialect = database.dialect
        self.last_report = SyncReport(messages_added=0, conversations_reloaded=False, rebuilt=False)
        """What the most recent refresh did."""

    @property
    def path(self) -> Path | None:
        """The DuckDB file (``None`` for an in-memory copy)."""
        return self._path

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Bring the copy up to date with the store and yield a DuckDB connection to it."""
        with self._lock:
            con = self._open()
            try:
                con = self._sync(con)
                yield con
            finally:
                if con is not self._memory:
                    con.close()

    def reset(self) -> None:
        """Forget what was copied, so the next use rebuilds the copy."""
        with self._lock:
            con = self._open()
            try:
                con.execute("DROP TABLE IF EXISTS sync_state")
            finally:
                if con is not self._memory:
                    con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            try:
                return duckdb.connect(str(self._path))
            except duckdb.IOException:
                # Another process holds the file's write lock: use a private in-memory copy.
                pass
        if self._memory is None:
            self._memory = duckdb.connect(":memory:")
        return self._memory

    def fingerprint(self) -> Fingerprint:
        """Read the store's current fingerprint (two small aggregate queries).

        No ``count(*)`` of messages: on SQLite that scans an index of every message, while the
        highest id is one B-tree lookup.
        """
        with self._database.engine.connect() as conn:
            max_id = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM messages")).scalar()
            conv = conn.execute(
                sa.text(
                    "SELECT count(*), "
                    f"coalesce(sum({_bool_expr('resolved')}), 0), "
                    f"coalesce(sum({_bool_expr('escalated')}), 0), "
                    "coalesce(sum(satisfaction), 0), count(satisfaction), count(ended_at) "
                    "FROM conversations"
                )
            ).one()
        return Fingerprint(
            max_message_id=int(max_id or 0),
            conversations=tuple(int(v) for v in conv),
        )

    def _sync(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """Refresh ``con``'s copy from the store as cheaply as the changes allow.

        Returns the connection to use from now on: ``con``, or, when a large copy file was
        rebuilt, a connection to the new file (``con`` is then closed).
        """
        con.execute(_DDL)
        current = self.fingerprint()
        recorded = _read_state(con)
        if recorded is None:
            # Unknown or older layout: start from fresh tables.
            con.execute(
                "DROP TABLE conversations; DROP TABLE messages; DROP TABLE sync_state; "
                "DROP TABLE conversation_stats"
            )
            con.execute(_DDL)
        if recorded is not None and recorded == current:
            self.last_report = SyncReport(
                messages_added=0, conversations_reloaded=False, rebuilt=False
            )
            return con
        rebuild = (
            recorded is None
            or current.max_message_id < recorded.max_message_id
            or current.conversations[0] < recorded.conversations[0]
            or not self._sample_matches(con, min(recorded.max_message_id, current.max_message_id))
        )
        large = current.max_message_id > _BULK_ROWS
        if rebuild and large and self._path is not None and con is not self._memory:
            con.close()
            con, added = self._rebuild_file(self._path, current)
            self.last_report = SyncReport(
                messages_added=added, conversations_reloaded=True, rebuilt=True
            )
            return con
        self.last_report = self._refresh(con, recorded, current, rebuild=rebuild)
        return con

    def _rebuild_file(
        self, path: Path, current: Fingerprint
    ) -> tuple[duckdb.DuckDBPyConnection, int]:
        """Build a new copy file beside ``path``, put it in its place and open it.

        A first build or rebuild of a large store: the rows go from the store's bulk read
        straight into the new file's tables (:func:`.bulk.build_file`), with no intermediate
        file and no transaction to undo. If the build fails, the new file is removed and the
        old one stays. The old file's connection must be closed; a process that opened the
        old file meanwhile keeps using it (its later writes are lost, its answers are right).
        Returns the connection and the number of messages copied.
        """
        building = path.with_name(f"{path.name}.build-{os.getpid()}")
        for stale in (building, building.with_name(building.name + ".wal")):
            stale.unlink(missing_ok=True)  # left by a build of this pid that was killed
        readers = 1 if self._dialect == "sqlite" else _READERS  # see docs/analytics.md
        queries = self._message_queries(0, current.max_message_id, readers)
        sources = {"conversation_rows": self._conversation_query("TRUE")}
        sources |= {f"message_rows_{i}": query for i, query in enumerate(queries)}
        incoming = " UNION ALL ".join(
            f"SELECT {_duck_select(self._dialect, _MESSAGE_COLUMNS, 'b')} FROM message_rows_{i} b"
            for i in range(len(queries))
        )
        conversations = _duck_select(self._dialect, _CONVERSATION_COLUMNS, "b")
        build_file(
            self._database,
            building,
            sources,
            [
                _DDL,
                f"INSERT INTO conversations BY NAME SELECT {conversations} "
                "FROM conversation_rows b",
                _NO_BUILD_SIDE_SWAP,
                _MESSAGES_INSERT.format(incoming=f"({incoming})"),
                _OPTIMIZERS_RESET,
                _STATS.format(where="TRUE"),
                _state_sql(current),
            ],
        )
        # A write-ahead log left beside the old file would be replayed into the new one.
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
        os.replace(building, path)
        con = duckdb.connect(str(path))
        row = con.execute("SELECT count(*) FROM messages").fetchone()
        return con, int(row[0]) if row else 0

    def _refresh(
        self,
        con: duckdb.DuckDBPyConnection,
        recorded: Fingerprint | None,
        current: Fingerprint,
        *,
        rebuild: bool,
    ) -> SyncReport:
        con.execute("BEGIN TRANSACTION")
        try:
            if rebuild:
                con.execute("DELETE FROM messages")
            after = 0 if rebuild or recorded is None else recorded.max_message_id
            upto = current.max_message_id
            reload = rebuild or recorded is None or recorded.conversations != current.conversations
            if reload and after:
                # Usually new conversations came with new messages: copy just those, and
                # reload all only if the copy still disagrees with the store (updates).
                self._copy_conversations(
                    con,
                    where=(
                        "c.id IN (SELECT conversation_id FROM messages "
                        f"WHERE id > {after} AND id <= {upto})"
                    ),
                )
                if self._copy_fingerprint(con) != current.conversations:
                    con.execute("DELETE FROM conversations")
                    self._copy_conversations(con, bulk=current.conversations[0] > _BULK_ROWS)
            elif reload:
                con.execute("DELETE FROM conversations")
                self._copy_conversations(con, bulk=current.conversations[0] > _BULK_ROWS)
            added = self._copy_messages(con, after_id=after, upto_id=upto)
            if after == 0:
                con.execute("DELETE FROM conversation_stats")
                con.execute(_STATS.format(where="TRUE"))
            elif added:
                touched = (
                    f"conversation_id IN (SELECT conversation_id FROM messages WHERE id > {after})"
                )
                con.execute(f"DELETE FROM conversation_stats WHERE {touched}")
                con.execute(_STATS.format(where=touched))
            con.execute(_state_sql(current))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return SyncReport(messages_added=added, conversations_reloaded=reload, rebuilt=rebuild)

    def _sample_matches(self, con: duckdb.DuckDBPyConnection, upto: int) -> bool:
        """Compare a few messages at or below ``upto`` in the store and in the copy.

        Catches a store whose rows were replaced under the same ids and counts (SQLite reuses
        row ids after a delete), which the aggregate fingerprint cannot see. Costs a few
        primary-key lookups.
        """
        if upto <= 0:
            return True
        ids = sorted({int(upto * (i + 1) / _SAMPLES) for i in range(_SAMPLES)} - {0})
        listed = ", ".join(str(i) for i in ids)
        with self._database.engine.connect() as conn:
            store = conn.execute(
                sa.text(
                    f"SELECT id, conversation_id, seq FROM messages WHERE id IN ({listed}) "
                    "ORDER BY id"
                )
            ).all()
        copy = con.execute(
            f"SELECT id, conversation_id, seq FROM messages WHERE id IN ({listed}) ORDER BY id"
        ).fetchall()
        return [tuple(r) for r in store] == [tuple(r) for r in copy]

    def _copy_conversations(
        self, con: duckdb.DuckDBPyConnection, *, where: str = "TRUE", bulk: bool = False
    ) -> None:
        """Copy the store's conversations matching ``where``, replacing copies of them."""
        sql = self._conversation_query(where)
        replace = "DELETE FROM conversations WHERE id IN (SELECT id FROM incoming)"
        insert = "INSERT INTO conversations BY NAME SELECT * FROM incoming"
        self._load(con, [sql], _CONVERSATION_COLUMNS, replace, insert, bulk=bulk)

    @staticmethod
    def _copy_fingerprint(con: duckdb.DuckDBPyConnection) -> tuple[int, ...]:
        """The conversations part of the fingerprint, computed on the copy."""
        row = con.execute(
            "SELECT count(*), coalesce(sum(resolved::INT), 0), coalesce(sum(escalated::INT), 0), "
            "coalesce(sum(satisfaction), 0), count(satisfaction), count(ended_at) "
            "FROM conversations"
        ).fetchone()
        assert row is not None
        return tuple(int(v) for v in row)

    def _copy_messages(self, con: duckdb.DuckDBPyConnection, *, after_id: int, upto_id: int) -> int:
        """Copy messages with ``after_id < id <= upto_id`` (the watermarks); return how many.

        The upper bound is the highest id the fingerprint saw: a message written while the copy
        is being built is left for the next refresh instead of being copied twice.
        """
        bulk = upto_id - after_id > _BULK_ROWS
        # SQLite is read by one export process per id range, to use every core.
        parts = _READERS if bulk and self._dialect == "sqlite" else 1
        queries = self._message_queries(after_id, upto_id, parts)
        insert = _MESSAGES_INSERT.format(incoming="incoming")
        return self._load(con, queries, _MESSAGE_COLUMNS, insert, bulk=bulk)

    def _conversation_query(self, where: str) -> str:
        """The store-side query of conversations matching ``where``."""
        return (
            f"SELECT {_source_select(self._dialect, _CONVERSATION_COLUMNS, 'c')} "
            f"FROM conversations c WHERE {where}"
        )

    def _message_queries(self, after_id: int, upto_id: int, parts: int) -> list[str]:
        """Store-side queries of messages ``after_id < id <= upto_id``, split in ``parts``."""
        bounds = [after_id + (upto_id - after_id) * i // parts for i in range(parts + 1)]
        select = _source_select(self._dialect, _MESSAGE_COLUMNS, "m")
        return [
            f"SELECT {select} FROM messages m WHERE m.id > {int(low)} AND m.id <= {int(high)}"
            for low, high in itertools.pairwise(bounds)
        ]

    def _load(
        self,
        con: duckdb.DuckDBPyConnection,
        queries: list[str],
        columns: dict[str, str],
        *statements: str,
        bulk: bool,
    ) -> int:
        """Read ``queries`` from the store and run ``statements`` on the rows as ``incoming``.

        ``bulk`` reads through ADBC (:mod:`.bulk`), for whole tables and large appends; a small
        read from SQLite goes through the store's own driver instead, which costs less than
        starting the export process. The rows are typed for the copy by DuckDB. One statement
        reads them as they arrive; several need them twice, so they are kept in a temporary
        table first. Returns the row count of the last statement (the insert).
        """
        if bulk or self._dialect != "sqlite":
            with bulk_sources(self._database, queries, con) as sources:
                return self._apply(con, sources, columns, statements)
        frame = self._fetch(" UNION ALL ".join(queries))
        con.register("driver_rows", frame)
        try:
            return self._apply(con, ["driver_rows"], columns, statements)
        finally:
            con.unregister("driver_rows")

    def _apply(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: list[str],
        columns: dict[str, str],
        statements: tuple[str, ...],
    ) -> int:
        select = _duck_select(self._dialect, columns, "b")
        union = " UNION ALL ".join(f"SELECT {select} FROM {source} b" for source in sources)
        kind = "VIEW" if len(statements) == 1 else "TABLE"
        con.execute(f"CREATE OR REPLACE TEMP {kind} incoming AS {union}")
        con.execute(_NO_BUILD_SIDE_SWAP)
        try:
            rows = 0
            for statement in statements:
                result = con.execute(statement).fetchone()
                rows = int(result[0]) if result else 0
        finally:
            con.execute(_OPTIMIZERS_RESET)
            con.execute(f"DROP {kind} IF EXISTS incoming")
        return rows

    def _fetch(self, sql: str) -> pd.DataFrame:
        """Rows of ``sql`` through the store's DB-API driver (for small SQLite reads)."""
        import pandas as pd  # only needed when rows are copied (warm calls skip the import)

        raw = self._database.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=names)
            cursor.close()
        finally:
            raw.close()
        return frame


def _read_state(con: duckdb.DuckDBPyConnection) -> Fingerprint | None:
    row = con.execute("SELECT value FROM sync_state WHERE key = 'fingerprint'").fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    if data.get("schema") != _SCHEMA_VERSION:
        return None
    return Fingerprint(
        max_message_id=data["max_message_id"],
        conversations=tuple(data["conversations"]),
    )


def _state_sql(fp: Fingerprint) -> str:
    """The statement recording ``fp`` as the fingerprint the copy is in step with."""
    value = json.dumps(
        {
            "schema": _SCHEMA_VERSION,
            "max_message_id": fp.max_message_id,
            "conversations": list(fp.conversations),
        }
    )
    return f"INSERT OR REPLACE INTO sync_state VALUES ('fingerprint', {sql_literal(value)})"
