"""Fixtures of the aidev tests: a migrated SQLite database per test.

The aidev logic does not depend on the database engine; the store tests cover both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from masterai.store import Database


@pytest.fixture
def db(sqlite_database: Database) -> Database:
    """A migrated, empty SQLite database."""
    return sqlite_database


# fake_openai.py beside this file is imported by the tests as a plain module.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
