"""Fixtures of the aidev tests: a migrated SQLite database per test.

The aidev logic does not depend on the database engine; the store tests cover both.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.store import Database


@pytest.fixture
def db(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    """A migrated, empty SQLite database."""
    path = tmp_path / "masterai.db"
    shutil.copyfile(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        yield database
    finally:
        database.dispose()


# fake_openai.py beside this file is imported by the tests as a plain module.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
