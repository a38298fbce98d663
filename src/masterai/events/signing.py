"""Signatures of outgoing webhook requests: HMAC-SHA256 over the timestamp and the body.

A request carries ``X-MasterAI-Timestamp`` (Unix seconds) and ``X-MasterAI-Signature:
v1=<hex>``, the HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the webhook's secret.
A receiver recomputes it over the raw body, compares in constant time and refuses
timestamps older than a few minutes, so a captured request cannot be replayed later;
``X-MasterAI-Delivery`` (and the body's ``id``) let it drop a duplicate within that window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-MasterAI-Signature"
TIMESTAMP_HEADER = "X-MasterAI-Timestamp"
EVENT_HEADER = "X-MasterAI-Event"
DELIVERY_HEADER = "X-MasterAI-Delivery"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300
"""Seconds a receiver should accept a timestamp for (either side of its clock)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>." + body>`` keyed with ``secret``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def signature_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers of a request with ``body``."""
    timestamp = int(time.time() if now is None else now)
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether ``headers`` carry a valid, fresh signature of ``body`` (what a receiver does).

    Header names are matched without regard to case.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    given = lower.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(stamp), body), given)
