"""Fixtures of the tool tests: they reuse the service tests' small data set."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/services/services_data.py holds the hand-checked data set the tool tests reuse.
_SERVICES = str(Path(__file__).resolve().parents[1] / "services")
if _SERVICES not in sys.path:
    sys.path.append(_SERVICES)
