"""The custom-tools tests reuse the scripts tests' platform helpers."""

from __future__ import annotations

import sys
from pathlib import Path

for folder in ("scripts", "integrations"):
    path = str(Path(__file__).resolve().parents[1] / folder)
    if path not in sys.path:
        sys.path.append(path)
