"""``process_csv``: typed steps over workspace CSV files, run by DuckDB.

A call names a CSV file and a list of steps ``{"op": NAME, ...}`` (see :data:`STEPS`). No SQL
from the caller reaches DuckDB: each expression (``filter.where``, ``derive.expr``,
``aggregate.metrics``) is parsed with sqlglot and accepted only if it is made of the
columns of the data at that step, literals, operators, ``CASE``/``CAST`` and the functions of
:data:`SCALAR_FUNCTIONS` (and, in metrics, :data:`AGGREGATES`); it is then rendered again with
every identifier quoted. Column names in other steps are checked against the data too.

Files are read by DuckDB through the descriptor the workspace opened (no link is followed),
and DuckDB streams them with a memory limit, spilling to a temporary directory, so files larger
than memory work. The result is a preview, the row count, and optionally a written file: CSV,
JSON (an array of objects) or Parquet. In CSV output a text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading ``'`` so that spreadsheets do not run
it as a formula (CSV injection); JSON and Parquet are written as they are.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from masterai.security.principals import Principal
from masterai.security.workspace import WorkspaceService
from masterai.services.errors import InvalidInputError, ServiceError

STEPS = (
    "filter",
    "select",
    "rename",
    "derive",
    "aggregate",
    "sort",
    "dedupe",
    "join",
    "pivot",
    "limit",
)
FORMATS = ("csv", "json", "parquet")
MAX_STEPS = 50
MAX_EXPRESSION = 2000
SCALAR_FUNCTIONS = frozenset(
    [
        "abs",
        "ceil",
        "ceiling",
        "floor",
        "round",
        "sqrt",
        "ln",
        "log",
        "log10",
        "log2",
        "exp",
        "pow",
        "power",
        "sign",
        "greatest",
        "least",
        "coalesce",
        "nullif",
        "if",
        "lower",
        "upper",
        "length",
        "trim",
        "ltrim",
        "rtrim",
        "substr",
        "substring",
        "replace",
        "concat",
        "left",
        "right",
        "lpad",
        "rpad",
        "starts_with",
        "ends_with",
        "contains",
        "strpos",
        "split_part",
        "regexp_matches",
        "regexp_replace",
        "reverse",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "dayofweek",
        "week",
        "quarter",
        "date_trunc",
        "date_part",
        "strftime",
        "strptime",
        "to_date",
        "cast",
        "try_cast",
        "current_date",
    ]
)
AGGREGATES = frozenset(
    [
        "count",
        "count_distinct",
        "sum",
        "avg",
        "mean",
        "min",
        "max",
        "median",
        "stddev",
        "variance",
        "percentile",
        "quantile_cont",
    ]
)
PIVOT_AGGREGATES = ("sum", "count", "avg", "min", "max")
JOINS = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "full": "FULL"}
_ALLOWED_NODES: tuple[type[Any], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.Connector,
    exp.Binary,
    exp.In,
    exp.Between,
    exp.Is,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.TryCast,
    exp.DataType,
    exp.Tuple,
    exp.Star,
    exp.Distinct,
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, kw_only=True)
class CsvResult:
    """What a ``process_csv`` call produced."""

    columns: list[dict[str, str]]
    preview: list[dict[str, Any]]
    row_count: int
    output: str | None = None
    format: str | None = None
    replaced: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class _Plan:
    ctes: list[tuple[str, str]]
    columns: list[tuple[str, str]]
    """Name and DuckDB type of each column of the result."""

    def query(self, select: str = "SELECT *") -> str:
        with_ = ", ".join(f"{n} AS ({s})" for n, s in self.ctes)
        return f"WITH {with_} {select} FROM {self.ctes[-1][0]}"


RESULT = "masterai_result"
"""The temporary table a result is materialised in."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class CsvService:
    """Runs ``process_csv`` calls (blocking; run them in a worker thread).

    Args:
        workspace: where the files are.
        memory_limit: DuckDB's memory limit (``"512MB"``).
        preview_rows: rows shown in a result.
    """

    def __init__(
        self, workspace: WorkspaceService, *, memory_limit: str = "512MB", preview_rows: int = 20
    ) -> None:
        self._workspace = workspace
        self._memory_limit = memory_limit
        self._preview_rows = preview_rows

    def process(
        self,
        principal: Principal,
        file: str,
        operations: Sequence[Mapping[str, Any]],
        *,
        output: str | None = None,
        output_format: str | None = None,
        replace: bool = False,
    ) -> CsvResult:
        """Run ``operations`` over ``file``; write the result to ``output`` when given.

        Raises:
            InvalidInputError: a malformed step or expression, naming the step.
            WorkspaceError: a file the principal may not read or write, or missing.
            ServiceError: DuckDB could not read or compute the data.
        """
        if not isinstance(operations, Sequence) or len(operations) > MAX_STEPS:
            raise InvalidInputError(f"'operations' must be a list of at most {MAX_STEPS} steps")
        fmt = _format(output, output_format)
        with ExitStack() as stack:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="masterai-csv-"))
            db = stack.enter_context(self._duckdb(scratch))
            opened = _Sources(
                db, lambda path, key: stack.enter_context(self._open(principal, path, key))
            )
            plan = self._plan(db, opened.add(file, "file"), operations, opened)
            try:
                return self._finish(principal, db, plan, scratch, output, fmt, replace)
            except duckdb.Error as e:
                raise ServiceError(
                    f"process_csv could not compute the result: {_first(e)}"
                ) from None

    # --- set-up -------------------------------------------------------------------------

    @contextmanager
    def _duckdb(self, scratch: str) -> Iterator[duckdb.DuckDBPyConnection]:
        db = duckdb.connect(":memory:")
        try:
            db.execute(f"SET memory_limit = '{_size(self._memory_limit)}'")
            db.execute(f"SET temp_directory = '{Path(scratch) / 'spill'}'")
            db.execute("SET threads = 2")
            yield db
        finally:
            db.close()

    @contextmanager
    def _open(self, principal: Principal, path: str, key: str) -> Iterator[str]:
        """A path DuckDB can read: the descriptor the workspace opened, kept open meanwhile."""
        with self._workspace.open_file(principal, path, key=key) as handle:
            yield f"/proc/self/fd/{handle.fileno()}"

    # --- planning -----------------------------------------------------------------------

    def _plan(
        self,
        db: duckdb.DuckDBPyConnection,
        source: str,
        operations: Sequence[Mapping[str, Any]],
        opened: _Sources,
    ) -> _Plan:
        plan = _Plan(ctes=[("s0", f"SELECT * FROM {source}")], columns=[])
        plan = _Plan(ctes=plan.ctes, columns=_describe(db, plan, "file"))
        for index, step in enumerate(operations):
            where = f"operations[{index}]"
            if not isinstance(step, Mapping) or step.get("op") not in STEPS:
                got = step.get("op") if isinstance(step, Mapping) else step
                raise InvalidInputError(f"{where}: unknown step {got!r}. Steps: {', '.join(STEPS)}")
            builder = _BUILDERS[str(step["op"])]
            sql = builder(step, plan, where, opened, plan.ctes[-1][0])
            ctes = [*plan.ctes, (f"s{index + 1}", sql)]
            candidate = _Plan(ctes=ctes, columns=[])
            plan = _Plan(ctes=ctes, columns=_describe(db, candidate, where))
        return plan

    def _finish(
        self,
        principal: Principal,
        db: duckdb.DuckDBPyConnection,
        plan: _Plan,
        scratch: str,
        output: str | None,
        fmt: str | None,
        replace: bool,
    ) -> CsvResult:
        columns = [{"name": n, "type": t} for n, t in plan.columns]
        # The source is scanned once: the result is materialised (DuckDB spills what does
        # not fit in its memory limit), then previewed, counted and written from there.
        db.execute(f"CREATE TEMP TABLE {RESULT} AS {plan.query()}")
        cursor = db.execute(f"SELECT * FROM {RESULT} LIMIT {self._preview_rows}")
        names = [d[0] for d in cursor.description or []]
        preview = [dict(zip(names, map(_plain, row), strict=True)) for row in cursor.fetchall()]
        if output is None or fmt is None:
            row = db.execute(f"SELECT count(*) FROM {RESULT}").fetchone()
            count = int(row[0]) if row else 0
            return CsvResult(columns=columns, preview=preview, row_count=count)
        target = Path(scratch) / f"result.{fmt}"
        select = _safe_select(plan) if fmt == "csv" else "SELECT *"
        options = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json, ARRAY true"}
        written = db.execute(
            f"COPY ({select} FROM {RESULT}) TO '{target}' ({options.get(fmt, 'FORMAT parquet')})"
        ).fetchone()
        with target.open("rb") as handle:
            replaced = self._workspace.write_stream(
                principal, output, handle, replace=replace, key="output"
            )
        return CsvResult(
            columns=columns,
            preview=preview,
            row_count=int(written[0]) if written else 0,
            output=self._workspace.parse(output, key="output").text,
            format=fmt,
            replaced=replaced,
        )


class _Sources:
    """Workspace files registered with DuckDB as views (``file``, ``join`` files)."""

    def __init__(self, db: duckdb.DuckDBPyConnection, opener: Callable[[str, str], str]) -> None:
        self._db = db
        self._opener = opener
        self._count = 0

    def add(self, path: str, key: str) -> str:
        location = self._opener(path, key)
        name = f"src{self._count}"
        self._count += 1
        try:
            reader = self._reader(location)
            self._db.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {reader}")
            self._db.execute(f"DESCRIBE {name}").fetchall()
        except duckdb.Error as e:
            raise InvalidInputError(f"{key} {path!r} cannot be read as CSV: {_first(e)}") from None
        return name

    def _reader(self, location: str) -> str:
        """``read_csv(...)`` with the dialect and column types sniffed once.

        Every step's plan is described (bound) again; with the sniffed options spelled out,
        binding does not sample the file each time.
        """
        row = self._db.execute(f"SELECT Prompt FROM sniff_csv('{location}', header = true)")
        found = row.fetchone()
        reader = str(found[0]).strip().removeprefix("FROM ").rstrip(";") if found else ""
        if not reader.startswith("read_csv("):
            return f"read_csv('{location}', header = true)"
        return reader


# --- step builders: (step, plan, where, sources, previous relation) -> SQL ---------------


def _columns_arg(step: Mapping[str, Any], key: str, plan: _Plan, where: str) -> list[str]:
    value = step.get(key)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidInputError(f"{where}.{key} must be a column name or a list of them")
    return [_column(n, plan, f"{where}.{key}") for n in names]


def _column(name: str, plan: _Plan, where: str) -> str:
    known = {n.lower(): n for n, _ in plan.columns}
    found = known.get(name.lower())
    if found is None:
        raise InvalidInputError(
            f"{where}: unknown column {name!r}. Columns: {', '.join(n for n, _ in plan.columns)}"
        )
    return found


def _filter(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    condition = _expression(step.get("where"), plan, f"{where}.where", aggregates=False)
    return f"SELECT * FROM {prev} WHERE {condition}"


def _select(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    names = _columns_arg(step, "columns", plan, where)
    return f"SELECT {', '.join(map(_q, names))} FROM {prev}"


def _rename(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    mapping = step.get("mapping")
    if not isinstance(mapping, Mapping) or not mapping:
        raise InvalidInputError(f"{where}.mapping must be an object of old name -> new name")
    pairs = []
    for old, new in mapping.items():
        if not isinstance(new, str) or not new.strip() or len(new) > 255:
            raise InvalidInputError(f"{where}.mapping: new name {new!r} must be non-empty text")
        pairs.append(f"{_q(_column(old, plan, f'{where}.mapping'))} AS {_q(new)}")
    return f"SELECT * RENAME ({', '.join(pairs)}) FROM {prev}"


def _derive(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    name = step.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise InvalidInputError(f"{where}.name must be the new column's name")
    value = _expression(step.get("expr"), plan, f"{where}.expr", aggregates=False)
    if name.lower() in {n.lower() for n, _ in plan.columns}:
        return f"SELECT * REPLACE ({value} AS {_q(_column(name, plan, where))}) FROM {prev}"
    return f"SELECT *, {value} AS {_q(name)} FROM {prev}"


def _aggregate(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    by = _columns_arg(step, "by", plan, where) if step.get("by") else []
    metrics = step.get("metrics")
    if not isinstance(metrics, Mapping) or not metrics:
        raise InvalidInputError(
            f'{where}.metrics must be an object such as {{"total": "sum(amount)"}}'
        )
    parts = [_q(b) for b in by]
    for name, text in metrics.items():
        value = _expression(text, plan, f"{where}.metrics.{name}", aggregates=True)
        parts.append(f"{value} AS {_q(str(name))}")
    group = f" GROUP BY {', '.join(_q(b) for b in by)}" if by else ""
    return f"SELECT {', '.join(parts)} FROM {prev}{group}"


def _sort(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    names = _columns_arg(step, "by", plan, where)
    descending = step.get("descending", False)
    flags = descending if isinstance(descending, list) else [descending] * len(names)
    if len(flags) != len(names) or not all(isinstance(f, bool) for f in flags):
        raise InvalidInputError(f"{where}.descending must be true/false, or one per column")
    keys = ", ".join(f"{_q(n)} {'DESC' if d else 'ASC'}" for n, d in zip(names, flags, strict=True))
    return f"SELECT * FROM {prev} ORDER BY {keys}"


def _dedupe(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    if step.get("columns") is None:
        return f"SELECT DISTINCT * FROM {prev}"
    names = _columns_arg(step, "columns", plan, where)
    return f"SELECT DISTINCT ON ({', '.join(map(_q, names))}) * FROM {prev}"


def _join(step: Mapping[str, Any], plan: _Plan, where: str, sources: _Sources, prev: str) -> str:
    how = step.get("how", "inner")
    if how not in JOINS:
        raise InvalidInputError(f"{where}.how must be one of {', '.join(JOINS)}; got {how!r}")
    path = step.get("file")
    if not isinstance(path, str):
        raise InvalidInputError(f"{where}.file must be the workspace path of a CSV file")
    other = sources.add(path, f"{where}.file")  # access to the other file is checked first
    keys = _columns_arg(step, "on", plan, where)
    return f"SELECT * FROM {prev} {JOINS[how]} JOIN {other} USING ({', '.join(map(_q, keys))})"


def _pivot(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    index = _columns_arg(step, "index", plan, where)
    on = _columns_arg(step, "columns", plan, where)
    values = _columns_arg(step, "values", plan, where)
    agg = step.get("agg", "sum")
    if agg not in PIVOT_AGGREGATES:
        raise InvalidInputError(f"{where}.agg must be one of {', '.join(PIVOT_AGGREGATES)}")
    using = ", ".join(f"{agg}({_q(v)})" for v in values)
    return (
        f"PIVOT {prev} ON {', '.join(map(_q, on))} USING {using} "
        f"GROUP BY {', '.join(map(_q, index))}"
    )


def _limit(step: Mapping[str, Any], plan: _Plan, where: str, _s: _Sources, prev: str) -> str:
    n = step.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"{where}.n must be a whole number of rows (0 or more)")
    return f"SELECT * FROM {prev} LIMIT {n}"


_BUILDERS: dict[str, Callable[[Mapping[str, Any], _Plan, str, _Sources, str], str]] = {
    "filter": _filter,
    "select": _select,
    "rename": _rename,
    "derive": _derive,
    "aggregate": _aggregate,
    "sort": _sort,
    "dedupe": _dedupe,
    "join": _join,
    "pivot": _pivot,
    "limit": _limit,
}


# --- expressions ---------------------------------------------------------------------


def _expression(text: object, plan: _Plan, where: str, *, aggregates: bool) -> str:
    """``text`` checked against the columns and functions, rendered with quoted names."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_EXPRESSION:
        raise InvalidInputError(f"{where} must be an expression (at most {MAX_EXPRESSION} chars)")
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except (ParseError, TokenError) as e:
        raise InvalidInputError(f"{where}: cannot parse {text!r}: {_first(e)}") from None
    tree = tree.transform(_normalise)
    found_aggregate = any(_check_node(node, plan, where, text, aggregates) for node in tree.walk())
    if aggregates and not found_aggregate:
        raise InvalidInputError(f"{where}: a metric needs an aggregate, e.g. sum(amount)")
    return tree.sql(dialect="duckdb", identify=True)


def _check_node(node: exp.Expr, plan: _Plan, where: str, text: str, aggregates: bool) -> bool:
    """Refuse a node that is not allowed; whether it is an aggregate call."""
    if isinstance(node, exp.Func):
        name = _function(node)
        if name in AGGREGATES or isinstance(node, exp.AggFunc):
            if not aggregates:
                raise InvalidInputError(
                    f"{where}: aggregate {name}() is only allowed in aggregate metrics"
                )
            return True
        if name not in SCALAR_FUNCTIONS:
            raise InvalidInputError(f"{where}: function {name}() is not allowed")
    elif isinstance(node, exp.Column):
        if node.table:
            raise InvalidInputError(f"{where}: use plain column names, not {node.sql()!r}")
        _column(node.name, plan, where)
    elif isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
        raise InvalidInputError(f"{where}: '*' is only allowed in count(*)")
    elif not isinstance(node, _ALLOWED_NODES):
        raise InvalidInputError(f"{where}: {node.key.upper()} is not allowed in {text!r}")
    return False


def _function(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _normalise(node: exp.Expr) -> exp.Expr:
    """Spell the friendly aggregate names as DuckDB's."""
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        args = node.expressions
        if name == "mean" and len(args) == 1:
            return exp.Avg(this=args[0])
        if name == "count_distinct" and len(args) == 1:
            return exp.Count(this=exp.Distinct(expressions=[args[0]]))
        if name == "percentile" and len(args) == 2:
            return exp.Anonymous(this="quantile_cont", expressions=args)
    return node


def _describe(db: duckdb.DuckDBPyConnection, plan: _Plan, where: str) -> list[tuple[str, str]]:
    try:
        rows = db.execute(f"DESCRIBE {plan.query()}").fetchall()
    except duckdb.Error as e:
        raise InvalidInputError(f"{where}: {_first(e)}") from None
    return [(str(r[0]), str(r[1])) for r in rows]


def _safe_select(plan: _Plan) -> str:
    """The final projection with text cells that could start a formula neutralised."""
    parts = []
    for name, kind in plan.columns:
        column = _q(name)
        if kind.upper() == "VARCHAR":
            starts = ", ".join(f"chr({ord(c)})" for c in _FORMULA_START)
            parts.append(
                f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} "
                f"ELSE {column} END AS {column}"
            )
        else:
            parts.append(column)
    return f"SELECT {', '.join(parts)}"


def _format(output: str | None, fmt: str | None) -> str | None:
    if output is None:
        if fmt is not None:
            raise InvalidInputError("'format' needs 'output', the file to write")
        return None
    chosen = fmt or os.path.splitext(output)[1].lstrip(".").lower()
    if chosen not in FORMATS:
        raise InvalidInputError(
            f"cannot tell the output format of {output!r}: name it .csv, .json or .parquet, "
            "or pass 'format'"
        )
    return chosen


def _size(value: str) -> str:
    text = value.strip().upper().replace(" ", "")
    if not text[:-2].replace(".", "").isdigit() or text[-2:] not in ("KB", "MB", "GB"):
        raise InvalidInputError(f"invalid csv_memory_limit {value!r}: use e.g. '512MB'")
    return text


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _first(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
