"""The one declarative ``Base`` of every Master AI table, and the column types they share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, MetaData, false, func, text, true
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

# Explicit constraint names keep Alembic migrations identical on SQLite and PostgreSQL and let
# later migrations drop or alter a constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of timestamp the store holds)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always returns aware UTC datetimes.

    SQLite has no time zones and hands back naive values; PostgreSQL returns the session's
    zone. Normalising at the column keeps comparisons and hashes identical on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Reject naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only accepts aware UTC values")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of all models; its ``metadata`` is what Alembic migrates."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def timestamp_now() -> Any:
    """A NOT NULL timestamp column defaulting to now (in Python and in the database)."""
    return mapped_column(UTCDateTime, nullable=False, default=utcnow, server_default=func.now())


def flag(default: bool = False) -> Any:
    """A NOT NULL boolean column with a default, also for raw SQL inserts."""
    return mapped_column(
        Boolean, nullable=False, default=default, server_default=true() if default else false()
    )


def counter(*, real: bool = False) -> Any:
    """A NOT NULL integer (or, with ``real``, float) column defaulting to zero."""
    return mapped_column(
        Float if real else Integer, nullable=False, default=0, server_default=text("0")
    )


def json_object() -> Any:
    """A NOT NULL JSON column defaulting to ``{}``."""
    return mapped_column(JSON, nullable=False, default=dict, server_default=text("'{}'"))
