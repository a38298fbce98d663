"""Fixtures shared by the whole suite.

Tests that need a real service (PostgreSQL, Redis, a Docker engine, bubblewrap) call
:func:`service_guard.require_service` (``tests/`` is on ``sys.path``). Locally a missing
service skips the test with the reason; with ``MASTERAI_REQUIRE_SERVICES=1`` (set by CI) it
fails the run instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service_guard import REQUIRE_SERVICES, require_service

__all__ = ["REQUIRE_SERVICES", "require_service"]

# Warm sandbox pools (docs/sandbox.md) start interpreters with pandas imported ahead of runs;
# a test's short-lived platform would pay for them and never use them. The warm path has its
# own tests (tests/sandbox/test_sandbox_warm.py sets the pools explicitly).
os.environ.setdefault("MASTERAI_SANDBOX__WARM_PYTHON", "0")
os.environ.setdefault("MASTERAI_SANDBOX__WARM_NODE", "0")
os.environ.setdefault("MASTERAI_SANDBOX__WARM_CONTAINERS", "0")

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set; the CLI's console would take
# that width for good when first imported, and the tests that set COLUMNS would not be heard.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture
def masterai_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty ``MASTERAI_HOME`` for one test, set in the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("MASTERAI_HOME", str(home))
    monkeypatch.delenv("MASTERAI_DATABASE_URL", raising=False)
    yield home


# --- store: a migrated database, on SQLite and on PostgreSQL (owned by the platform core) ---

POSTGRES_TEST_URL = os.environ.get(
    "MASTERAI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable(url: str) -> bool:
    import psycopg
    from sqlalchemy.engine import make_url

    from masterai.store import normalize_url

    parsed = make_url(normalize_url(url))
    try:
        with psycopg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            dbname=parsed.database or "postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test session, dropped at the end.

    Each session gets its own database, so concurrent runs on one server never collide.
    """
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from masterai.store import Database, normalize_url

    require_service(
        _postgres_reachable(POSTGRES_TEST_URL), f"PostgreSQL unreachable at {POSTGRES_TEST_URL}"
    )
    admin_url = make_url(normalize_url(POSTGRES_TEST_URL))
    name = f"masterai_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        database.upgrade()
        database.dispose()
        yield url
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    from masterai.store import Database

    path = tmp_path_factory.mktemp("sqlite-template") / "masterai.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


def _reset_postgres(database: Any) -> None:
    """Empty every table except the migration marker; restore the built-in roles.

    DELETE in dependency order is ~10x faster than TRUNCATE on small tables; sequences are
    restarted so ids begin at 1 as on a fresh database.
    """
    from sqlalchemy import text

    from masterai.store.models import Base

    keep = {"alembic_version", "roles", "security_generation"}
    existing = set(database.table_names()) - keep
    ordered = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
    unknown = existing - set(ordered)
    with database.engine.begin() as conn:
        if unknown:
            quoted = ", ".join(f'"{t}"' for t in sorted(unknown))
            conn.execute(text(f"TRUNCATE {quoted} CASCADE"))
        for table in ordered:
            conn.execute(text(f'DELETE FROM "{table}"'))
        sequences = conn.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).scalars()
        for sequence in list(sequences):
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        conn.execute(text("DELETE FROM roles WHERE NOT built_in"))
        conn.execute(text("UPDATE roles SET permissions = '{}'"))


@pytest.fixture
def sqlite_database(tmp_path: Path, _sqlite_template: Path) -> Iterator[Any]:
    """A migrated, empty SQLite :class:`masterai.store.Database` (a copy of the template)."""
    import shutil

    from masterai.store import Database

    path = tmp_path / "masterai.db"
    shutil.copyfile(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A migrated, empty :class:`masterai.store.Database`: SQLite (a temp file) or PostgreSQL."""
    from masterai.store import Database

    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_database")
        return
    database = Database(request.getfixturevalue("postgres_url"))
    _reset_postgres(database)
    try:
        yield database
    finally:
        database.dispose()
