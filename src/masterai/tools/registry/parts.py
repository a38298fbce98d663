"""Which parts make up the ``registry`` tool, and how each is built.

Each entry of :data:`PART_MODULES` is the import path of a module with a function
``build(settings, database) -> RegistryPart``; a part's libraries load only when the tool is
first used. Another area adds its operations by adding its module here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masterai.settings import Settings
    from masterai.store import Database
    from masterai.tools.registry import RegistryPart

PART_MODULES: tuple[str, ...] = (
    "masterai.tools.registry.custom",
    "masterai.tools.registry.sharing",
    "masterai.tools.registry_alerts",
)
"""Part modules, in the order their operations are listed."""


def build_parts(settings: Settings, database: Database) -> list[RegistryPart]:
    """Every part of the ``registry`` tool, built."""
    return [importlib.import_module(name).build(settings, database) for name in PART_MODULES]
