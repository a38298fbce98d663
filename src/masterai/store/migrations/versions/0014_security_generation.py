"""A count of changes to who may do what, kept by triggers, so principals can be cached.

``security_generation`` holds one row. Triggers on ``users``, ``roles``, ``user_companies``,
``permission_grants`` and ``api_tokens`` add one to it on every insert, update or delete,
whoever writes (the platform, a migration, an operator's SQL), except an update of a token's
``last_used_at`` alone. A process that authenticated a token keeps the principal while the
count is unchanged: a revocation, a role change or a new grant is seen by the next request.

A later batch migration of one of these tables on SQLite recreates it and loses its
triggers: such a migration must create them again (``_sqlite_triggers``).

Revision ID: 0014
Revises: 0013
Create Date: 2027-02-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TABLES = ("users", "roles", "user_companies", "permission_grants")
_TOKEN_COLUMNS = "user_id, name, token_hash, prefix, expires_at, revoked_at, auto_approve"
_BUMP = "UPDATE security_generation SET value = value + 1"


def _sqlite_triggers() -> list[tuple[str, str]]:
    triggers = [
        (f"security_generation_{table}_{event.lower()}", f"{event} ON {table}")
        for table in _TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ]
    triggers += [
        ("security_generation_api_tokens_insert", "INSERT ON api_tokens"),
        ("security_generation_api_tokens_delete", "DELETE ON api_tokens"),
        ("security_generation_api_tokens_update", f"UPDATE OF {_TOKEN_COLUMNS} ON api_tokens"),
    ]
    return triggers


def upgrade() -> None:
    op.create_table(
        "security_generation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO security_generation (id, value) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION security_generation_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER security_generation_{table} AFTER INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION security_generation_bump()"
            )
        op.execute(
            "CREATE TRIGGER security_generation_api_tokens AFTER INSERT OR DELETE OR UPDATE OF "
            f"{_TOKEN_COLUMNS} ON api_tokens FOR EACH STATEMENT "
            "EXECUTE FUNCTION security_generation_bump()"
        )
        return
    for name, when in _sqlite_triggers():
        op.execute(f"CREATE TRIGGER {name} AFTER {when} BEGIN {_BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (*_TABLES, "api_tokens"):
            op.execute(f"DROP TRIGGER IF EXISTS security_generation_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS security_generation_bump()")
    else:
        for name, _ in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("security_generation")
