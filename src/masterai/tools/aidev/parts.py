"""Which parts make up the ``aidev`` tool, and how each is built.

Each entry of :data:`PART_MODULES` names a module of this package with a function
``build(settings, database) -> AIDevPart``. Importing a part (and its libraries) happens only
when the tool is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masterai.services.rag import RagService
    from masterai.settings import Settings
    from masterai.store import Database
    from masterai.tools.aidev import AIDevPart

PART_MODULES: tuple[str, ...] = ("prompts", "training", "rag")
"""Part modules, in the order their operations are listed (``"prompts"``, ``"rag"``, ...)."""


def build_parts(
    settings: Settings, database: Database, *, rag: RagService | None = None
) -> list[AIDevPart]:
    """Every part of the ``aidev`` tool, built (``rag``: the retrieval service to share)."""
    parts: list[AIDevPart] = []
    for name in PART_MODULES:
        module = importlib.import_module(f"masterai.tools.aidev.{name}")
        # One RagService per platform: its in-memory vector indexes are not duplicated.
        shared = {"service": rag} if name == "rag" and rag is not None else {}
        parts.append(module.build(settings, database, **shared))
    return parts
