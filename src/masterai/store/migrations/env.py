"""Alembic environment: runs on the connection handed over by ``masterai.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from masterai.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    # Offline or stand-alone use (``alembic`` CLI with -x): build an engine from the URL.
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        run_migrations(conn)
else:
    run_migrations(connection)
