"""``query_database`` on PostgreSQL, MariaDB and SQLite: results, parameters, the read-only
battery (DML, DDL, data-modifying CTE, two statements, FOR UPDATE, a long sleep, 10M rows)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from support import make_settings, run

from masterai.registry import ToolRegistry
from masterai.security import Principal, UserDirectory, load_principal
from masterai.services.integrations import DatabaseService
from masterai.settings import IntegrationsSettings
from masterai.store import Database
from masterai.tools import build_registry
from service_guard import require_service

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
ROWS = [(1, "alpha", 10.5), (2, "beta", 20.0), (3, "gamma", 30.25)]
BACKENDS = ["postgres", "mariadb", "sqlite"]
SLEEP = {
    "postgres": "SELECT pg_sleep(30)",
    "mariadb": "SELECT SLEEP(30)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT count(*) FROM c",
}
_COUNT_TO_TEN_MILLION = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000) "
    "SELECT x FROM c"
)
# Queries that produce their rows as they are read: PostgreSQL's generate_series builds the
# whole set before the first row, which can pass the statement timeout on a busy machine.
TEN_MILLION = {
    "postgres": _COUNT_TO_TEN_MILLION,
    "mariadb": "SELECT seq FROM seq_1_to_10000000",
    "sqlite": _COUNT_TO_TEN_MILLION,
}


def _postgres(name: str) -> Iterator[str]:
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.Error:
        require_service(False, "PostgreSQL unreachable at 127.0.0.1:5432")
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with psycopg.connect(PG_ADMIN.replace("/test", f"/{name}")) as conn:
                conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text, price float8)")
                conn.cursor().executemany("INSERT INTO items VALUES (%s, %s, %s)", ROWS)
            yield PG_ADMIN.replace("/test", f"/{name}")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mariadb(name: str) -> Iterator[str]:
    import pymysql

    try:
        admin = pymysql.connect(**MARIA, autocommit=True, connect_timeout=3)
    except pymysql.Error:
        require_service(False, "MariaDB unreachable at 127.0.0.1:3306")
        raise
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute(
                f"CREATE TABLE `{name}`.items (id int PRIMARY KEY, name text, price double)"
            )
            cursor.executemany(f"INSERT INTO `{name}`.items VALUES (%s, %s, %s)", ROWS)
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(kind, URL) of a database holding ``items``; each run gets its own database."""
    name = f"mai_int_{uuid.uuid4().hex[:10]}"
    if request.param == "postgres":
        yield from (("postgres", url) for url in _postgres(name))
    elif request.param == "mariadb":
        yield from (("mariadb", url) for url in _mariadb(name))
    else:
        path = tmp_path_factory.mktemp("sqlite") / "items.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE items (id integer PRIMARY KEY, name text, price real)")
            conn.executemany("INSERT INTO items VALUES (?, ?, ?)", ROWS)
        yield "sqlite", f"sqlite:///{path}"


@pytest.fixture
def db_registry(backend: tuple[str, str], tmp_path: Path, store: Database) -> ToolRegistry:
    settings = make_settings(tmp_path, integrations={"connections": {"shop": backend[1]}})
    return build_registry(settings, store)


async def query(registry: ToolRegistry, who: Principal, sql: str, **args: Any) -> Any:
    return await run(registry, who, "query_database", connection="shop", query=sql, **args)


async def test_rows_come_back_with_column_names_and_types(
    db_registry: ToolRegistry, people: dict[str, Principal]
) -> None:
    result = await query(
        db_registry, people["root"], "SELECT id, name, price FROM items ORDER BY id"
    )

    assert result.ok, result.error
    out = result.data["result"]
    assert out["rows"] == [list(r) for r in ROWS]
    assert [c["name"] for c in out["columns"]] == ["id", "name", "price"]
    assert all(c["type"] for c in out["columns"]) and out["truncated"] is False


async def test_parameters_are_bound_never_interpolated(
    db_registry: ToolRegistry, people: dict[str, Principal]
) -> None:
    found = await query(
        db_registry, people["root"], "SELECT name FROM items WHERE id = :id", parameters={"id": 2}
    )
    injected = await query(
        db_registry,
        people["root"],
        "SELECT name FROM items WHERE name = :n",
        parameters={"n": "x' OR '1'='1"},
    )
    percent = await query(
        db_registry,
        people["root"],
        "SELECT name FROM items WHERE name LIKE '%a' AND id > :id ORDER BY id",
        parameters={"id": 0},
    )

    assert found.data["result"]["rows"] == [["beta"]]
    assert injected.data["result"]["rows"] == []
    assert percent.data["result"]["rows"] == [["alpha"], ["beta"], ["gamma"]]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM items",
        "UPDATE items SET price = 0",
        "INSERT INTO items VALUES (9, 'x', 1)",
        "DROP TABLE items",
        "CREATE TABLE evil (a int)",
        "ALTER TABLE items ADD COLUMN b int",
        "TRUNCATE TABLE items",
        "WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d",
        "SELECT 1; DELETE FROM items",
        "SELECT * FROM items FOR UPDATE",
        "SELECT * INTO copy_of_items FROM items",
        "EXPLAIN ANALYZE SELECT * FROM items",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT load_file('/etc/passwd')",
    ],
    ids=lambda s: s[:30],
)
async def test_the_read_only_battery_is_refused_and_nothing_changes(
    db_registry: ToolRegistry, people: dict[str, Principal], sql: str
) -> None:
    result = await query(db_registry, people["root"], sql)

    assert result.status == "invalid", (result.status, result.error)
    count = await query(db_registry, people["root"], "SELECT count(*) AS n FROM items")
    assert count.data["result"]["rows"] == [[3]]


async def test_a_long_sleep_is_cut_by_the_one_second_statement_timeout(
    db_registry: ToolRegistry, people: dict[str, Principal], backend: tuple[str, str]
) -> None:
    started = time.monotonic()

    result = await query(db_registry, people["root"], SLEEP[backend[0]])

    assert result.status == "failed" and "statement timeout of 1s" in (result.error or "")
    assert time.monotonic() - started < 10


async def test_a_ten_million_row_result_is_capped_at_max_rows(
    db_registry: ToolRegistry, people: dict[str, Principal], backend: tuple[str, str]
) -> None:
    started = time.monotonic()

    result = await query(db_registry, people["root"], TEN_MILLION[backend[0]], max_rows=50)

    out = result.data["result"]
    assert result.ok and out["row_count"] == 50 and out["truncated"] is True
    assert [r[0] for r in out["rows"][:3]] == [1, 2, 3]
    assert time.monotonic() - started < 10


async def test_max_rows_is_capped_by_settings(
    backend: tuple[str, str], tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    settings = make_settings(
        tmp_path, integrations={"connections": {"shop": backend[1]}, "max_rows": 2}
    )
    registry = build_registry(settings, store)

    result = await query(registry, people["root"], "SELECT * FROM items", max_rows=1000)

    assert result.data["result"]["row_count"] == 2 and result.data["result"]["truncated"]


def test_the_transaction_itself_refuses_writes_without_the_parser(
    backend: tuple[str, str],
) -> None:
    service = DatabaseService(
        IntegrationsSettings(connections={"shop": SecretStr(backend[1])}, statement_timeout=5)
    )
    with service._connect("shop") as (raw, kind):  # the second guard, on its own
        cursor = raw.cursor()
        service._begin(raw, cursor, kind)
        with pytest.raises(Exception, match=r"(?i)read.?only"):
            cursor.execute("UPDATE items SET price = 0")
        raw.rollback()


async def test_connections_are_a_permission(
    db_registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    refused = await query(db_registry, people["ada"], "SELECT 1")
    UserDirectory(store).set_grant("ada", "integrations.allowed_connections", ["shop"])
    granted = await query(db_registry, load_principal(store, "ada"), "SELECT 1 AS one")

    assert refused.status == "denied" and "'shop'" in (refused.error or "")
    assert granted.ok and granted.data["result"]["rows"] == [[1]]


async def test_an_unknown_connection_names_the_known_ones(
    db_registry: ToolRegistry, people: dict[str, Principal]
) -> None:
    result = await run(
        db_registry, people["root"], "query_database", connection="crm", query="SELECT 1"
    )

    assert result.status == "not_found" and "known: shop" in (result.error or "")
    assert "postgresql://" not in (result.error or "") and "mysql://" not in (result.error or "")


def test_cli_check_db_connects_read_only_and_fails_for_an_unknown_name(
    backend: tuple[str, str], masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from masterai.cli import app

    runner = CliRunner()
    monkeypatch.setenv("MASTERAI_INTEGRATIONS__CONNECTIONS", json.dumps({"shop": backend[1]}))
    assert runner.invoke(app, ["init"]).exit_code == 0

    checked = runner.invoke(app, ["integrations", "check-db", "shop", "--json"])
    unknown = runner.invoke(app, ["integrations", "check-db", "crm"])

    assert checked.exit_code == 0, checked.stdout
    assert json.loads(checked.stdout)["ok"] is True
    assert unknown.exit_code == 2 and "unknown database connection 'crm'" in unknown.stderr
