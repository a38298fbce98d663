"""Where the curated runtimes live on the host (installed by ``scripts/setup-sandbox``)."""

from __future__ import annotations

from pathlib import Path

from masterai.sandbox.errors import BackendUnavailableError
from masterai.sandbox.runners import RUNNERS_DIR
from masterai.settings import SandboxSettings

#: ``<repository>/sandbox/runtime`` for a source checkout (editable install).
DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parents[3] / "sandbox" / "runtime"

RUNTIME_NAMES = ("python", "javascript", "typescript")


def runtime_dir(settings: SandboxSettings) -> Path:
    """The runtime directory in use."""
    return settings.runtime_dir or DEFAULT_RUNTIME_DIR


def runtime_path(settings: SandboxSettings, name: str) -> Path:
    """Host directory of one curated runtime (``python``, ``javascript`` or ``typescript``).

    Raises:
        BackendUnavailableError: it is not installed (the message says how to install it).
    """
    path = runtime_dir(settings) / name
    if not (path / ".stamp").is_file():
        raise BackendUnavailableError(
            f"The sandbox {name} runtime is not installed at {path}: run scripts/setup-sandbox "
            "(or set MASTERAI_SANDBOX__RUNTIME_DIR to where it is installed)"
        )
    return path


def runners_dir() -> Path:
    """Host directory of the runner scripts (bound at ``/opt/masterai/runners``)."""
    return RUNNERS_DIR
