"""Fixtures of the service tests: a small, hand-checkable conversation data set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from services_data import small_data_set

from masterai.services.analytics import AnalyticsService
from masterai.settings import ModelPrice, Settings
from masterai.store import Database


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        analytics={"prices": {"gpt-4o-mini": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)}},
    )


@pytest.fixture
def loaded(database: Database) -> Database:
    with database.session() as session:
        session.add_all(small_data_set())
    return database


@pytest.fixture
def analytics(loaded: Database, settings: Settings, tmp_path: Path) -> Iterator[AnalyticsService]:
    yield AnalyticsService(loaded, settings, copy_dir=tmp_path / "copy")
