"""The store: migrations match the models, both databases behave the same."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from masterai.settings import Settings
from masterai.store import Database, StoreConfigError, normalize_url, open_database
from masterai.store.migrate import head_revision
from masterai.store.models import (
    AIConfiguration,
    Base,
    Company,
    Conversation,
    Message,
    Role,
)


def _modelled(name: str | None, type_: str, parent: object) -> bool:
    # The RAG chunks' keyword indexes are not models: on SQLite an FTS5 virtual table with
    # shadow tables of its own (migration 0013), on PostgreSQL a generated column and its
    # GIN index (0015).
    if (type_, name) in (("column", "text_tsv"), ("index", "ix_rag_chunks_text_tsv")):
        return False
    return not (type_ == "table" and (name or "").startswith("rag_chunks_fts"))


def test_migrated_schema_equals_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": _modelled}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert database.current_revision() == head_revision()


def test_upgrade_twice_is_a_no_op(database: Database) -> None:
    database.upgrade()
    assert database.current_revision() == head_revision()


def test_built_in_roles_are_seeded_by_the_migration(database: Database) -> None:
    with database.session() as s:
        names = set(s.scalars(select(Role.name).where(Role.built_in)))
    assert names == {"super_admin", "admin", "analyst", "viewer"}


def test_timestamps_come_back_as_aware_utc_with_microseconds(database: Database) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    with database.session() as s:
        s.add(
            Company(
                id="acme", name="Acme", created_at=moment.astimezone(timezone(timedelta(hours=2)))
            )
        )
    with database.session() as s:
        company = s.get(Company, "acme")
        assert company is not None
        assert company.created_at == moment
        assert company.created_at.tzinfo is not None
        assert company.settings == {}


def test_naive_datetimes_are_rejected(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.session() as s:
        s.add(Company(id="acme", name="Acme", created_at=datetime(2026, 1, 1)))
        s.flush()


def test_configuration_versions_are_unique_per_company(database: Database) -> None:
    with database.session() as s:
        s.add(Company(id="acme", name="Acme"))
        s.flush()
        s.add(AIConfiguration(company_id="acme", version=1, is_active=True, model="m"))
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(AIConfiguration(company_id="acme", version=1, model="other"))
    with database.session() as s:
        assert s.scalars(select(AIConfiguration.model)).all() == ["m"]


def test_a_company_has_at_most_one_active_configuration(database: Database) -> None:
    with database.session() as s:
        s.add_all([Company(id="acme", name="Acme"), Company(id="globex", name="Globex")])
        s.flush()
        s.add_all(
            [
                AIConfiguration(company_id="acme", version=1, is_active=False),
                AIConfiguration(company_id="acme", version=2, is_active=True),
                AIConfiguration(company_id="globex", version=1, is_active=True),
            ]
        )
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(AIConfiguration(company_id="acme", version=3, is_active=True))
    with database.session() as s:
        s.execute(text("UPDATE ai_configurations SET is_active = false WHERE company_id = 'acme'"))
        s.add(AIConfiguration(company_id="acme", version=3, is_active=True))
    with database.session() as s:
        active = s.execute(
            select(AIConfiguration.company_id, AIConfiguration.version).where(
                AIConfiguration.is_active
            )
        ).all()
    assert sorted(active) == [("acme", 3), ("globex", 1)]


def test_migration_0003_keeps_only_the_newest_active_version(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    database.upgrade("0002")
    with database.session() as s:
        s.execute(text("INSERT INTO companies (id, name) VALUES ('acme', 'Acme')"))
        for version in (1, 2, 3):
            s.execute(
                text(
                    "INSERT INTO ai_configurations (company_id, version, is_active) "
                    "VALUES ('acme', :v, :a)"
                ),
                {"v": version, "a": version != 2},
            )
    database.upgrade()
    with database.session() as s:
        active = s.scalars(select(AIConfiguration.version).where(AIConfiguration.is_active))
        assert list(active) == [3]
    database.dispose()


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(Conversation(id="c1", company_id="missing"))


def test_conversation_metadata_column_and_message_defaults(database: Database) -> None:
    with database.session() as s:
        s.add(Company(id="acme", name="Acme"))
        s.add(Conversation(id="c1", company_id="acme", metadata_={"lang": "en"}))
        s.flush()
        s.add(Message(conversation_id="c1", seq=0, role="user", content="hi"))
    with database.session() as s:
        message = s.scalars(select(Message)).one()
        assert (message.prompt_tokens, message.cost_usd, message.is_fallback) == (0, 0.0, False)
        conversation = s.get(Conversation, "c1")
        assert conversation is not None
        assert conversation.metadata_ == {"lang": "en"}
        assert conversation.resolved is False


def test_server_defaults_fill_rows_inserted_with_raw_sql(database: Database) -> None:
    with database.session() as s:
        s.execute(text("INSERT INTO companies (id, name) VALUES ('raw', 'Raw')"))
        s.execute(
            text(
                "INSERT INTO conversations (id, company_id, started_at) "
                "VALUES ('c', 'raw', CURRENT_TIMESTAMP)"
            )
        )
    with database.session() as s:
        conversation = s.get(Conversation, "c")
        assert conversation is not None
        assert (conversation.resolved, conversation.escalated, conversation.metadata_) == (
            False,
            False,
            {},
        )


def test_session_rolls_back_when_the_block_raises(database: Database) -> None:
    with pytest.raises(RuntimeError), database.session() as s:
        s.add(Company(id="acme", name="Acme"))
        s.flush()
        raise RuntimeError("boom")
    with database.session() as s:
        assert s.get(Company, "acme") is None


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'sub' / 'm.db'}")
    try:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        database.dispose()


def test_embedded_database_is_created_under_home_on_first_use(masterai_home: Path) -> None:
    settings = Settings()
    assert not (masterai_home / "masterai.db").exists()
    database = open_database(settings)
    try:
        assert (masterai_home / "masterai.db").exists()
        assert "audit_log" in database.table_names()
    finally:
        database.dispose()


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://postgres@127.0.0.1:5432/test") == (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db"])
def test_bad_database_urls_are_rejected_with_the_value(url: str) -> None:
    with pytest.raises(StoreConfigError, match=repr(url).replace("(", r"\(")):
        Database(url)


def test_immediate_sessions_serialise_read_then_write_on_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    database.upgrade()
    with database.session() as s:
        s.add(Company(id="acme", name="Acme", settings={"n": 0}))

    def bump() -> None:
        for _ in range(10):
            with database.session(immediate=True) as s:
                company = s.get(Company, "acme")
                assert company is not None
                company.settings = {"n": company.settings["n"] + 1}

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with database.session() as s:
        company = s.get(Company, "acme")
        assert company is not None
        assert company.settings == {"n": 60}
    database.dispose()
