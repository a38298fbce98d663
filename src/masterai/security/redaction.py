"""Redact secrets from values before they are stored or shown.

Keys that name secrets (passwords, tokens, API keys, authorization headers, ...) and
parameters a tool marks ``sensitive`` have their values replaced with ``"[REDACTED]"``;
strings that look like credentials (bearer tokens, ``sk-...`` keys, our ``mai_`` tokens,
AWS access keys, URL passwords) are masked wherever they appear.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"

# Matched against the key lower-cased with every non-alphanumeric character removed, so
# "X-Api-Key", "api_key" and "apiKey" all become "apikey". Token *counts* ("max_tokens",
# "token_count") are not secrets; a key ending in "token" ("access_token") is.
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)|secret|apikey|credential|privatekey|accesskey|authorization|"
    r"cookie|sessionid|signature|token$|^auth$|authheader"
)
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_SECRET_TEXT = [
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}"),
    re.compile(r"\bmai_[A-Za-z0-9_-]{16,}"),
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"),
]
_URL_PASSWORD = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@]+):[^@\s/]+@", re.IGNORECASE
)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``password``, ``api_key``, ``X-Auth-Token``...)."""
    return bool(_SECRET_KEY.search(_NON_ALNUM.sub("", key.lower())))


def storable(text: str) -> str:
    """``text`` with characters UTF-8 cannot encode (lone surrogates) written as escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def scrub_text(text: str) -> str:
    """Mask credential-looking substrings of free text (escaping text UTF-8 cannot encode)."""
    text = storable(text)
    for pattern in _SECRET_TEXT:
        text = pattern.sub(REDACTED, text)
    return _URL_PASSWORD.sub(rf"\g<scheme>:{REDACTED}@", text)


def redact(
    value: Any, *, sensitive_keys: Iterable[str] = (), public_keys: Iterable[str] = ()
) -> Any:
    """A JSON-ready copy of ``value`` with secrets redacted.

    Args:
        value: any JSON-like value; other objects become their ``str``, non-finite floats
            strings, so the result always encodes as strict JSON.
        sensitive_keys: extra key names to redact (parameters a tool marks sensitive),
            at any depth.
        public_keys: top-level keys declared not secret (a parameter with a declared role):
            their values are kept although their name looks secret; text in them is still
            scrubbed.
    """
    extra = frozenset(sensitive_keys)
    return _redact(value, extra, 0, frozenset(public_keys) - extra)


def _redact(
    value: Any, extra: frozenset[str], depth: int, public: frozenset[str] = frozenset()
) -> Any:
    if depth > 32:
        return "[TOO DEEP]"
    if isinstance(value, dict):
        return {
            storable(str(k)): REDACTED
            if str(k) not in public
            and (str(k) in extra or is_secret_key(str(k)))
            and value[k] is not None
            else _redact(value[k], extra, depth + 1)
            for k in value
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v, extra, depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(str(value))
