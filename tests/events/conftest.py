"""The events tests reuse the integration tests' loopback receiver and settings."""

from __future__ import annotations

import sys
from pathlib import Path

_SUPPORT = str(Path(__file__).resolve().parents[1] / "integrations")
if _SUPPORT not in sys.path:
    sys.path.append(_SUPPORT)
