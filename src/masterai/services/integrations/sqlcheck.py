"""The first of ``query_database``'s three read-only guards: what the statement may be.

:func:`check_read_only` parses a statement with sqlglot in the connection's dialect and
accepts exactly one ``SELECT`` (set operations and ``WITH`` included), ``EXPLAIN`` of one
(never ``EXPLAIN ANALYZE``, which runs it) or ``SHOW``. Refused anywhere in the tree: a
data-modifying statement (``WITH d AS (DELETE ...)``), ``SELECT ... INTO``, a locking clause
(``FOR UPDATE``, ``LOCK IN SHARE MODE``), positional placeholders, and the functions of
:data:`DENIED_FUNCTIONS` (file access, large objects, remote queries, queries in strings).

The statement that runs is sqlglot's rendering of the checked tree, not the caller's text,
so what was checked is what the server parses; an outer ``LIMIT`` bounds the rows the
server produces. Bound parameters (``:name``) become the driver's placeholders.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from masterai.services.errors import InvalidInputError

DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
"""SQLAlchemy backend name -> sqlglot dialect."""

DENIED_FUNCTIONS = frozenset(
    {
        # PostgreSQL: server files, large objects, other servers, SQL in strings, admin.
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_file_write",
        "pg_logdir_ls",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "table_to_xml",
        "cursor_to_xml",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_notify",
        "set_config",
        "nextval",
        "setval",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_try_advisory_lock",
        # MySQL / MariaDB
        "load_file",
        "get_lock",
        "release_lock",
        "sys_exec",
        "sys_eval",
        # SQLite
        "load_extension",
        "readfile",
        "writefile",
        "edit",
    }
)
DENIED_PREFIXES = ("lo_", "dblink", "pg_read_", "pg_ls_", "pg_file_", "pg_advisory")
"""Function families refused whole (``lo_import``, ``dblink_exec``, ...)."""

_MODIFYING: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Copy,
    exp.LoadData,
    exp.Command,
    exp.Set,
    exp.Pragma,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Use,
    exp.Grant,
    exp.Revoke,
    exp.Kill,
    exp.Lock,
    exp.Analyze,
    exp.Attach,
    exp.Detach,
    exp.Into,
)
_QUERIES: tuple[type[exp.Expr], ...] = (exp.Select, exp.SetOperation)
_EXPLAIN = re.compile(
    r"^\s*(?:QUERY\s+PLAN\s+)?(?P<options>\([^()]*\)|(?:(?:ANALY[SZ]E|VERBOSE)\s+)*)(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SETTING = re.compile(r"^\s*(ALL|[A-Za-z_][A-Za-z0-9_.]*)\s*$")


@dataclass(frozen=True, kw_only=True)
class CheckedQuery:
    """A statement that passed the check, rendered for the driver."""

    sql: str
    """The statement to execute (driver placeholders)."""
    kind: str
    """``select``, ``explain`` or ``show``."""
    parameters: frozenset[str]
    """Names of the bound parameters it uses."""


def check_read_only(
    sql: object, dialect: str, *, row_limit: int, paramstyle: str = "named"
) -> CheckedQuery:
    """Accept one read-only statement in ``dialect`` (see the module docstring).

    Args:
        sql: the caller's statement.
        dialect: ``postgresql``, ``mysql`` or ``sqlite`` (SQLAlchemy backend names).
        row_limit: the outer ``LIMIT`` the statement gets (the caller's row cap plus one).
        paramstyle: ``named`` (``:x``, sqlite3) or ``pyformat`` (``%(x)s``, psycopg, PyMySQL).

    Raises:
        InvalidInputError: naming what is not allowed.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInputError("'query' must be a non-empty SQL statement")
    read = DIALECTS.get(dialect)
    if read is None:
        raise InvalidInputError(f"unsupported database {dialect!r}: postgresql, mysql, sqlite")
    statement = _one_statement(sql, read)
    if isinstance(statement, exp.Command):
        return _command(statement, read, row_limit=row_limit, paramstyle=paramstyle)
    if isinstance(statement, exp.Show):
        _check_tree(statement)
        return _render(statement, read, "show", paramstyle)
    if isinstance(statement, exp.Describe):
        style = str(statement.args.get("style") or "").upper()
        if "ANALYZE" in style or not isinstance(statement.this, _QUERIES):
            raise InvalidInputError(
                "only EXPLAIN of a SELECT is allowed (EXPLAIN ANALYZE runs the statement)"
            )
        _check_tree(statement)
        return _render(statement, read, "explain", paramstyle)
    if not isinstance(statement, _QUERIES):
        raise InvalidInputError(
            f"only SELECT, WITH ... SELECT, EXPLAIN and SHOW are allowed; got "
            f"{statement.key.upper()}"
        )
    _check_tree(statement)
    return _render(_limited(statement, row_limit), read, "select", paramstyle)


def _one_statement(sql: str, read: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except (ParseError, TokenError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InvalidInputError(f"the query cannot be parsed as {read} SQL: {first}") from None
    if len(statements) != 1:
        raise InvalidInputError(
            f"exactly one statement is allowed; got {len(statements)} (separated by ';')"
        )
    return statements[0]


def _check_tree(statement: exp.Expr) -> None:
    for node in statement.walk():
        if isinstance(node, _MODIFYING):
            raise InvalidInputError(
                f"the query contains {node.key.upper()}, which is not read-only; only "
                "SELECT, WITH ... SELECT, EXPLAIN and SHOW are allowed"
            )
        if isinstance(node, exp.Select) and node.args.get("into") is not None:
            raise InvalidInputError("SELECT ... INTO writes a table; it is not allowed")
        if node.args.get("locks"):
            raise InvalidInputError(
                "locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not allowed"
            )
        if isinstance(node, exp.Placeholder) and (not node.name or node.name == "?"):
            raise InvalidInputError("use named parameters (:name) with 'parameters'; not '?'")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
                raise InvalidInputError(f"function {name}() is not allowed in queries")


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _limited(statement: exp.Expr, row_limit: int) -> exp.Expr:
    """``statement`` producing at most ``row_limit`` rows."""
    current = statement.args.get("limit")
    if current is None:
        return cast(exp.Query, statement).limit(row_limit)
    value = current.expression if isinstance(current, exp.Limit) else None
    if isinstance(value, exp.Literal) and value.is_int and not statement.args.get("offset"):
        return cast(exp.Query, statement).limit(min(int(value.name), row_limit))
    # A computed limit, or one with an offset: keep it inside, bound the outside.
    query = cast(exp.Query, statement)
    return exp.select("*").from_(query.subquery("masterai_q")).limit(row_limit)


def _command(statement: exp.Command, read: str, *, row_limit: int, paramstyle: str) -> CheckedQuery:
    """PostgreSQL and SQLite ``EXPLAIN`` and ``SHOW``, which sqlglot keeps as commands."""
    verb = str(statement.this).upper()
    tail = statement.expression
    rest = str(tail.name if isinstance(tail, exp.Literal) else tail or "")
    if verb == "SHOW" and read == "postgres" and _SETTING.match(rest):
        return CheckedQuery(sql=f"SHOW {rest.strip()}", kind="show", parameters=frozenset())
    if verb == "EXPLAIN":
        match = _EXPLAIN.match(rest)
        options = match.group("options") if match else ""
        if match is None or re.search(r"ANALY[SZ]E", options, re.IGNORECASE):
            raise InvalidInputError(
                "EXPLAIN ANALYZE runs the statement; only plain EXPLAIN of a SELECT is allowed"
            )
        inner = check_read_only(
            match.group("rest"), _backend(read), row_limit=row_limit, paramstyle=paramstyle
        )
        if inner.kind != "select":
            raise InvalidInputError("only EXPLAIN of a SELECT is allowed")
        prefix = rest[: match.start("rest")].strip()
        plan = "QUERY PLAN " if read == "sqlite" and "QUERY" in prefix.upper() else ""
        opts = f"{options.strip()} " if options.strip() else ""
        return CheckedQuery(
            sql=f"EXPLAIN {plan}{opts}{inner.sql}", kind="explain", parameters=inner.parameters
        )
    raise InvalidInputError(
        f"{verb} is not allowed; only SELECT, WITH ... SELECT, EXPLAIN and SHOW are"
    )


def _backend(read: str) -> str:
    return next(k for k, v in DIALECTS.items() if v == read)


def _render(statement: exp.Expr, read: str, kind: str, paramstyle: str) -> CheckedQuery:
    """The statement as the driver gets it: named parameters in the driver's style."""
    token = f"masterai_param_{secrets.token_hex(6)}_"
    names: set[str] = set()

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and node.name:
            names.add(node.name)
            return exp.column(f"{token}{node.name}")
        return node

    sql = statement.transform(swap).sql(dialect=read)
    if paramstyle == "pyformat" and names:
        sql = sql.replace("%", "%%")
    for name in sorted(names, key=len, reverse=True):
        marker = f"%({name})s" if paramstyle == "pyformat" else f":{name}"
        sql = sql.replace(f"{token}{name}", marker)
    return CheckedQuery(sql=sql, kind=kind, parameters=frozenset(names))
