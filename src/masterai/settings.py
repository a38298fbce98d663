"""The one settings object of Master AI (pydantic-settings, env prefix ``MASTERAI_``).

With nothing set, everything lives under ``MASTERAI_HOME`` (default ``./.masterai``): the
SQLite database, workspace files and logs. Nested sections are set with a double underscore,
for example ``MASTERAI_SANDBOX__DEFAULT_TIMEOUT=10``.

Each layer owns one section class here; lower layers import only their own section.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseModel):
    """Code execution limits and backend choice (owned by ``masterai.sandbox``)."""

    backend: str = "bubblewrap"
    """``bubblewrap`` (default on Linux) or ``docker``."""


class Settings(BaseSettings):
    """All Master AI settings, read from the environment (``MASTERAI_*``) and a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="MASTERAI_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    home: Path = Path(".masterai")
    """Root of all local state: database, workspace, logs."""

    database_url: str | None = None
    """SQLAlchemy URL; default is SQLite (WAL) at ``<home>/masterai.db``."""

    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)

    @property
    def workspace(self) -> Path:
        """Directory the filesystem tool and reports are confined to."""
        return self.home / "workspace"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: ``database_url`` or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'masterai.db').resolve()}"
