"""Shared plumbing of the platform commands (init, user, company, tool, audit).

The CLI is a local client: it opens the database directly and acts as the local super admin
that ``masterai init`` created (``MASTERAI_REGISTRY__LOCAL_ADMIN``, default ``admin``), or as
the user named by ``--as``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from masterai.cli.common import fail

if TYPE_CHECKING:
    from masterai.security import Principal
    from masterai.settings import Settings
    from masterai.store import Database

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def load_settings() -> Settings:
    """The settings from the environment, with one clear line on a bad value."""
    from pydantic import ValidationError

    from masterai.settings import Settings

    try:
        return Settings()
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"Invalid setting {where}: {first['msg']} (value {first.get('input')!r})")


def open_db(settings: Settings) -> Database:
    """The migrated database the settings select (created on first use).

    Its pooled connections are closed when the object is collected (end of the command).
    """
    from masterai.store import StoreError, open_database

    try:
        return open_database(settings)
    except StoreError as e:
        fail(str(e))


def acting_principal(database: Database, settings: Settings, as_user: str | None) -> Principal:
    """The principal the CLI acts as: ``--as USER`` or the local super admin."""
    from masterai.security import AuthenticationError, load_principal

    name = as_user or settings.registry.local_admin
    try:
        return load_principal(database, name)
    except AuthenticationError as e:
        if as_user is None:
            fail(f"No local super admin {name!r}: run `masterai init` first")
        fail(str(e))


def parse_since(value: str) -> datetime:
    """``--since``: an ISO date/time (UTC if no zone) or a relative age like ``30m``, ``2d``."""
    match = _RELATIVE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), _UNIT[match.group(2)]
        try:
            return datetime.now(UTC) - timedelta(**{unit: amount})
        except OverflowError:
            fail(f"Invalid --since {value!r}: that age reaches before the year 1")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"Invalid --since {value!r}: use an ISO date/time (2026-01-31, "
            "2026-01-31T12:00:00+00:00) or an age like 30m, 12h, 7d"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cli_client_address() -> str:
    """The audit ``client_address`` of a CLI call: ``cli:USER@HOST``.

    Over SSH the remote address (from ``SSH_CLIENT``) comes first, so it survives the
    column's 64-character limit: ``203.0.113.7 cli:ann@box``.
    """
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (containers)
        user = str(os.getuid())
    local = f"cli:{user}@{socket.gethostname()}"
    ssh = os.environ.get("SSH_CLIENT", "").split()
    return f"{ssh[0]} {local}" if ssh else local


def require_company(database: Database, company_id: str) -> None:
    """Fail with one line unless ``company_id`` names a stored company (``--company``)."""
    from masterai.store.models import Company

    with database.session() as s:
        if s.get(Company, company_id) is None:
            fail(f"Unknown company {company_id!r} in --company (see `masterai company list`)")


def parse_json_object(value: str, option: str) -> dict[str, Any]:
    """Decode ``value`` as a JSON object, failing with the option name on error."""
    import json

    try:
        decoded = json.loads(value)
    except json.JSONDecodeError as e:
        fail(f"Invalid {option}: not JSON ({e.msg} at position {e.pos}): {value[:80]!r}")
    except RecursionError:
        fail(f"Invalid {option}: JSON nested too deeply")
    if not isinstance(decoded, dict):
        fail(f"Invalid {option}: expected a JSON object like '{{\"a\": 1}}', got {value[:80]!r}")
    return decoded
