"""Redact secrets from values before they are stored or shown.

The one place that decides what a secret looks like, for arguments, results, audit summaries,
configuration diffs and error text:

- :func:`redact` copies a JSON-like value: the values of keys that name secrets
  (:func:`is_secret_key`) and of parameters a tool declares secret become ``"[REDACTED]"``;
  every string (and key) is scrubbed with :func:`scrub_text`.
- :func:`scrub_text` masks secrets inside free text: provider keys (``sk-...``,
  ``sk_live_...``, ``AIza...``, GitHub, Slack, AWS, Hugging Face tokens, our ``mai_`` tokens),
  JWTs, PEM private-key blocks, bearer/basic credentials, the password in
  ``scheme://user:pass@host``, token-like query parameters (``?token=``, ``&sig=``...) and
  assignments to secret names (``"api_key": "..."``, ``password=...``,
  ``Authorization: Bearer ...``), so a diff or an error message that quotes a configuration
  loses its secrets too.

Counts are not secrets: ``max_tokens``, ``prompt_tokens``, ``token_count`` keep their values,
and so does a number under a ``tokens`` key.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
_MAX_DEPTH = 32

# --- secret key names -------------------------------------------------------------------

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
# Matched against the key's words joined ("X-Api-Key" -> "xapikey").
_SECRET_JOINED = re.compile(
    r"pass(word|wd|phrase|code)|secret|apikey|credential|privatekey|accesskey|authorization|"
    r"cookie|sessionid|signature|token$|^auth$|authheader|^jwt|jwt$"
)
_SECRET_NAMES = frozenset({"pwd", "pass", "passwd", "jwt", "jwts", "tokens", "creds"})
"""Whole key names that are secrets."""
_SECRET_LAST_WORDS = frozenset(
    {"key", "keys", "secret", "secrets", "token", "password", "passwords", "pwd", "pass"}
    | {"passwd", "jwt", "credential", "credentials", "creds"}
)
"""A key of several words ending in one of these (``db_pass``, ``sort_key``) is a secret."""
_COUNT_WORDS = frozenset(
    {"max", "min", "prompt", "completion", "total", "input", "output", "cached", "cache"}
    | {"reasoning", "num", "n", "used", "remaining", "context", "estimated", "avg", "mean"}
    | {"sum", "count", "per", "billed", "limit", "budget", "daily"}
)
"""Words that make ``..._tokens`` a count (``max_tokens``, ``cache_read_input_tokens``)."""


def _words(key: str) -> list[str]:
    return _WORD.findall(_CAMEL.sub(r"\1_\2", key).lower())


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``password``, ``api_key``, ``X-Auth-Token``...).

    Secret: names containing password, secret, api key, credential, private key, access key,
    authorization, cookie, session id or signature, a name ending in ``token``, the names
    ``pwd``, ``pass``, ``jwt``, ``tokens``, and any name of several words ending in ``key``,
    ``secret``, ``token``, ``password`` (``sort_key``, ``db_password``). Not secret: token
    counts (``max_tokens``, ``prompt_tokens``, ``token_count``, ``tokens_used``).
    """
    words = _words(key)
    if not words:
        return False
    if words[-1] == "tokens":
        return not any(w in _COUNT_WORDS for w in words[:-1])
    joined = "".join(words)
    if joined in _SECRET_NAMES or (len(words) > 1 and words[-1] in _SECRET_LAST_WORDS):
        return True
    return bool(_SECRET_JOINED.search(joined))


def _is_count(key: str, value: Any) -> bool:
    """A number under a ``tokens`` key (a daily point's ``tokens: 1057``) is a count."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return numeric and _words(key)[-1:] == ["tokens"]


# --- secrets in text ----------------------------------------------------------------------

# The start of a word, also right after an escaped newline or tab (secrets in JSON text).
_B = r"(?:(?<!\w)|(?<=\\[nrt]))"
_PEM = re.compile(
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}-----|\Z)"
)
"""A private key block; one whose end is missing (cut text) is masked to the end."""
_SECRET_SHAPES = re.compile(
    _B
    + "(?:"
    + "|".join(
        [
            # credentials after an auth scheme
            r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
            # OpenAI / Anthropic style and Stripe style keys
            r"(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}",
            r"(?:sk|pk|rk)_(?:live|test|prod)_[A-Za-z0-9]{8,}",
            r"whsec_[A-Za-z0-9+/=]{16,}",
            # Google API keys and OAuth access tokens
            r"AIza[0-9A-Za-z_-]{20,}",
            r"ya29\.[0-9A-Za-z_-]{20,}",
            # our API tokens
            r"mai_[A-Za-z0-9_-]{16,}",
            # AWS access key ids
            r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",
            # GitHub, GitLab, Hugging Face, npm, Slack
            r"gh[pousr]_[A-Za-z0-9]{20,}",
            r"github_pat_[A-Za-z0-9_]{20,}",
            r"glpat-[A-Za-z0-9_-]{20,}",
            r"hf_[A-Za-z0-9]{20,}",
            r"npm_[A-Za-z0-9]{30,}",
            r"xox[abposre]-[A-Za-z0-9-]{10,}",
            # JSON Web Tokens (a cut one too: header and the start of the payload)
            r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?",
        ]
    )
    + r")|hooks\.slack\.com/services/[A-Za-z0-9/_-]+"
)
"""Provider keys, tokens and credentials after an auth scheme: one pattern, one pass."""
_URL_PASSWORD = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@]+):[^@\s/]+@", re.IGNORECASE
)
_QUERY_PARAM = re.compile(r"(?P<prefix>[?&;](?P<name>[\w.-]{1,64})=)(?P<value>[^&#\s\"'<>]+)")
_QUERY_SECRETS = frozenset({"key", "sig", "sign", "code", "auth", "apikey"})
"""Query parameter names that carry secrets although they are not secret key names."""

_ASSIGNMENT = re.compile(
    r"""(?:(?<![\w.\\-])|(?<=\\[nrt]))(?P<quote>\\?["']?)"""
    # only names that may be secret are looked at further (fast on long text)
    r"(?=-{0,2}[\w.-]{0,64}?(?i:pass|pwd|secret|key|token|cred|auth|cookie|session|sig|jwt))"
    r"(?P<name>-{0,2}[A-Za-z_][\w.-]{0,63})(?P=quote)[ \t]*(?::=|=>|==?|:)[ \t]*"
)
"""``name: value``, ``"name": "value"``, ``name=value``, ``--name=value``."""
_BARE_VALUE = re.compile(
    r"(?i:(?:bearer|basic|token|digest|apikey|key|jwt)[ \t]+)?[^\s,;&#\"'<>(){}\[\]]+"
)
_KEEP_BARE = frozenset({"null", "none", "true", "false", REDACTED})
_NUMBER = re.compile(r"[\d][\d.,_]*")
_CLOSING = {"{": "}", "[": "]"}


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
    text = _PEM.sub(REDACTED, text)
    text = _SECRET_SHAPES.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(rf"\g<scheme>:{REDACTED}@", text)
    text = _QUERY_PARAM.sub(_query_param, text)
    return _assignments(text)


def _query_param(match: re.Match[str]) -> str:
    name = match["name"]
    if name.lower() in _QUERY_SECRETS or is_secret_key(name):
        return match["prefix"] + REDACTED
    return match[0]


def _assignments(text: str) -> str:
    """``text`` with the values assigned to secret names masked.

    Every assignment is looked at, even one that starts inside a value already masked: in
    ``token: "password": "hunter2"`` the first value is a key of the second assignment.
    """
    spans: list[tuple[int, int, str]] = []
    for match in _ASSIGNMENT.finditer(text):
        if not is_secret_key(match["name"]):
            continue
        end, replacement = _value(text, match.end(), match["name"])
        if end > match.end():
            spans.append((match.end(), end, replacement))
    if not spans:
        return text
    parts: list[str] = []
    done = 0
    for start, end, replacement in spans:
        if start < done:  # within (or overlapping) the value masked before
            done = max(done, end)
            continue
        parts += [text[done:start], replacement]
        done = end
    return "".join(parts) + text[done:]


def _value(text: str, start: int, name: str) -> tuple[int, str]:
    """Where the value at ``start`` ends, and what replaces it (``start``: nothing to mask)."""
    escaped = text.startswith(("\\'", '\\"'), start)
    first = text[start + 1] if escaped else text[start : start + 1]
    if first in ("'", '"'):
        return _quoted(text, start, first, escaped)
    if first in _CLOSING:
        return _bracketed(text, start), REDACTED
    bare = _BARE_VALUE.match(text, start)
    if bare is None or bare[0].lower() in _KEEP_BARE or bare[0] == REDACTED:
        return start, ""
    if _words(name)[-1:] == ["tokens"] and _NUMBER.fullmatch(bare[0]):
        return start, ""  # "tokens: 1,057" is a count
    return bare.end(), REDACTED


def _quoted(text: str, start: int, quote: str, escaped: bool) -> tuple[int, str]:
    opening = "\\" + quote if escaped else quote
    body = start + len(opening)
    if escaped:
        close = text.find(opening, body)
    else:
        close = body
        while close < len(text) and text[close] != quote:
            close += 2 if text[close] == "\\" else 1
        close = close if close < len(text) else -1
    if close == -1:  # unterminated (cut text): mask to the end of the line
        newline = text.find("\n", body)
        return (len(text) if newline == -1 else newline), opening + REDACTED
    if close == body:
        return start, ""
    return close + len(opening), opening + REDACTED + opening


def _bracketed(text: str, start: int) -> int:
    """The end of the JSON-like object or list at ``start`` (strings respected)."""
    stack: list[str] = []
    index = start
    quote = ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in ('"', "'"):
            quote = char
        elif char in _CLOSING:
            stack.append(_CLOSING[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return index + 1
        index += 1
    return len(text)


# --- structures -----------------------------------------------------------------------------


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


@functools.lru_cache(maxsize=4096)
def _scrub_key(key: str) -> str:
    """:func:`scrub_text` of a mapping key (the same keys recur in every row of a result)."""
    return scrub_text(key)


def _hidden(key: str, value: Any, extra: frozenset[str], public: frozenset[str]) -> bool:
    if value is None or key in public:
        return False
    return key in extra or (is_secret_key(key) and not _is_count(key, value))


def _redact(
    value: Any, extra: frozenset[str], depth: int, public: frozenset[str] = frozenset()
) -> Any:
    if depth > _MAX_DEPTH:
        return "[TOO DEEP]"
    if isinstance(value, dict):
        redacted: dict[str, Any] = {}
        for k, item in value.items():
            key = str(k)
            hidden = _hidden(key, item, extra, public)
            redacted[_scrub_key(key)] = REDACTED if hidden else _redact(item, extra, depth + 1)
        return redacted
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v, extra, depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(str(value))
