"""Sandbox commands: ``masterai exec`` and ``masterai sandbox ...`` (owned by the sandbox layer)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the sandbox commands to ``app``."""
