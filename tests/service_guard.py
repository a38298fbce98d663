"""Skip-or-fail for tests that need a real service (importable from any test module).

Locally a missing service skips the test with the reason; with ``MASTERAI_REQUIRE_SERVICES=1``
(set by CI) it fails the run instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("MASTERAI_REQUIRE_SERVICES", "") not in ("", "0", "false")


def require_service(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) the calling test when a service is unavailable."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)
