"""Translation of the official SDKs' exceptions into :mod:`masterai.llm.errors`.

The ``openai`` and ``anthropic`` SDKs share one exception design (``APIStatusError`` with
``status_code``/``body``/``response``, ``APITimeoutError``, ``APIConnectionError``), so one
function serves both; each adapter passes its SDK's classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from masterai.llm.errors import (
    LLMAuthenticationError,
    LLMBadRequestError,
    LLMConnectionError,
    LLMEgressError,
    LLMError,
    LLMModelNotFoundError,
    LLMQuotaError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)
from masterai.security.egress import EgressError

_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "quota_exceeded"})


@dataclass(frozen=True, kw_only=True)
class SDKErrors:
    """The exception classes of one SDK."""

    status: type[Exception]
    timeout: type[Exception]
    connection: type[Exception]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (numeric form only)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / scale
        except ValueError:
            continue
    return None


def _error_fields(body: Any) -> tuple[str, str]:
    """``(code_or_type, message)`` from an OpenAI- or Anthropic-shaped error body."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = str(inner.get("code") or inner.get("type") or "")
            return code, str(inner.get("message") or "")
        if isinstance(inner, str):
            return "", inner
    return "", ""


def egress_cause(error: BaseException) -> EgressError | None:
    """The egress guard's refusal behind ``error`` (the SDKs wrap it as a connection error)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, EgressError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def translate(error: Exception, sdk: SDKErrors, *, model: str, endpoint: str) -> LLMError | None:
    """Our error for an SDK ``error`` (``None`` if it is not an API error at all)."""
    refused = egress_cause(error)
    if refused is not None:
        return LLMEgressError(f"{model}: {endpoint}: {refused}")
    if isinstance(error, sdk.timeout):
        return LLMTimeoutError(f"{model}: no answer from {endpoint} within the timeout")
    if isinstance(error, sdk.connection):
        return LLMConnectionError(f"{model}: cannot reach {endpoint}: {error}")
    if not isinstance(error, sdk.status):
        return None
    status = int(getattr(error, "status_code", 0))
    response = getattr(error, "response", None)
    # Duck-typed: an SDK may bundle its own copy of httpx, so isinstance() would lie.
    headers = getattr(response, "headers", None)
    if not isinstance(headers, Mapping):
        headers = {}
    code, detail = _error_fields(getattr(error, "body", None))
    detail = detail or str(error)
    kwargs: dict[str, Any] = {"status_code": status, "retry_after": retry_after_seconds(headers)}
    if status in (401, 403):
        return LLMAuthenticationError(
            f"{model}: the provider rejected the API key ({status}: {detail}); "
            "check MASTERAI_LLM__API_KEY or the provider's key variable",
            **kwargs,
        )
    if status == 404:
        return LLMModelNotFoundError(
            f"{model}: unknown model at {endpoint} ({detail}); "
            "set MASTERAI_MODEL to a model this endpoint serves",
            **kwargs,
        )
    if status == 402 or code in _QUOTA_CODES:
        return LLMQuotaError(f"{model}: quota or credit exhausted ({detail})", **kwargs)
    if status == 429:
        return LLMRateLimitError(f"{model}: rate limited ({detail})", **kwargs)
    if status >= 500:
        return LLMServerError(f"{model}: provider error {status} ({detail})", **kwargs)
    return LLMBadRequestError(f"{model}: request rejected ({status}: {detail})", **kwargs)
