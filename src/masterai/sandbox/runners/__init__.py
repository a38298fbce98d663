"""Runner scripts bound read-only into the sandbox at ``/opt/masterai/runners``.

They run inside the sandbox under the sandbox's interpreters, never in the host process.
"""

from __future__ import annotations

from pathlib import Path

RUNNERS_DIR = Path(__file__).resolve().parent
"""Host directory of the runner scripts."""
