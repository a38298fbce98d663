"""``call_webhook`` and ``make_api_call``: outbound HTTP through the egress guard.

Every request goes through :func:`masterai.security.egress.egress_client` with the caller's
allowed domains. A named API (``NAME/path``) is reached at the base URL configured for it,
with its credential headers; the caller sees only the name. Idempotent methods are retried
(tenacity, exponential backoff with jitter) after network errors and 429/502/503/504 answers;
others are sent once.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from masterai.events.signing import signature_headers
from masterai.security.egress import EgressError, Resolver, egress_client
from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError
from masterai.settings import EgressSettings, IntegrationsSettings

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_HIDDEN_HEADERS = frozenset({"set-cookie", "set-cookie2"})


class _Retry(Exception):
    """An answer worth another try (429, 502-504) of an idempotent request."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


@dataclass(frozen=True, kw_only=True)
class HttpResult:
    """What came back."""

    endpoint: str
    """As the caller named it (a named API's base URL is never shown)."""
    method: str
    status: int
    headers: dict[str, str]
    body: Any
    """Parsed JSON, or text, cut at ``response_preview_bytes``."""
    truncated: bool
    latency_ms: float
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class _Target:
    url: str
    shown: str
    trusted: tuple[str, ...] = ()
    headers: Mapping[str, str] | None = None
    secret_text: tuple[tuple[str, str], ...] = ()
    """(text, replacement) pairs scrubbed from messages: a named API's base URL."""


class HttpService:
    """Outbound HTTP for the integration tool (see the module docstring).

    Args:
        integrations: named APIs, retries and the response preview size.
        egress: the egress guard's settings.
        resolver: host resolution for the egress guard (tests).
        verify: TLS context (tests with their own CA).
    """

    def __init__(
        self,
        integrations: IntegrationsSettings,
        egress: EgressSettings,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = integrations
        self._egress = egress
        self._resolver = resolver
        self._verify = verify

    def api_names(self) -> list[str]:
        """The configured API names."""
        return sorted(self._settings.apis)

    async def call_webhook(
        self,
        url: str,
        payload: Any,
        *,
        allowed_hosts: Iterable[str],
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
    ) -> HttpResult:
        """POST ``payload`` as JSON to ``url``, signed when ``secret`` is given (sent once)."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        sent = {**_headers(headers), "Content-Type": "application/json"}
        if secret:
            sent.update(signature_headers(secret, body))
        target = _Target(url=_check_url(url), shown=url)
        return await self._send(target, "POST", sent, body, None, allowed_hosts, retry=False)

    async def api_call(
        self,
        endpoint: str,
        method: str = "GET",
        *,
        allowed_hosts: Iterable[str],
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> HttpResult:
        """Call ``endpoint`` (a URL or ``NAME/path``) with ``method``; see the module docstring."""
        method = str(method).upper()
        if method not in METHODS:
            raise InvalidInputError(f"unsupported method {method!r}. Allowed: {', '.join(METHODS)}")
        target = self._target(endpoint)
        sent = _headers(headers)
        content = None
        if body is not None:
            if isinstance(body, str):
                content = body.encode()
                sent.setdefault("Content-Type", "text/plain; charset=utf-8")
            else:
                content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
                sent["Content-Type"] = "application/json"
        if target.headers:
            sent.update(target.headers)  # the configured credential wins over the caller's
        params = _query(query)
        return await self._send(
            target, method, sent, content, params, allowed_hosts, retry=method in IDEMPOTENT
        )

    def _target(self, endpoint: str) -> _Target:
        if not isinstance(endpoint, str) or not endpoint:
            raise InvalidInputError("'endpoint' must be a URL or NAME/path of a named API")
        if "://" in endpoint:
            return _Target(url=_check_url(endpoint), shown=endpoint)
        name, _, path = endpoint.partition("/")
        api = self._settings.apis.get(name)
        if api is None:
            known = ", ".join(sorted(self._settings.apis)) or "none configured"
            raise NotFoundError(
                f"unknown API {name!r} in endpoint {endpoint!r}; named APIs: {known} "
                "(or give a full http(s) URL)"
            )
        segments = unquote(path).split("/")
        if any(s in ("..", ".") for s in segments) or "\\" in path or "#" in path:
            raise InvalidInputError(
                f"invalid path {path!r} in endpoint {endpoint!r}: no '..', '.', '\\' or '#'"
            )
        base = api.base_url.rstrip("/")
        url = f"{base}/{path.lstrip('/')}" if path else base
        base_url, full = httpx.URL(base), httpx.URL(url)
        if (full.scheme, full.host, full.port) != (base_url.scheme, base_url.host, base_url.port):
            raise InvalidInputError(f"endpoint {endpoint!r} leaves the API {name!r}")
        return _Target(
            url=url,
            shown=endpoint,
            trusted=(base,),
            headers={k: v.get_secret_value() for k, v in api.headers.items()},
            secret_text=((base, name),),
        )

    async def _send(
        self,
        target: _Target,
        method: str,
        headers: dict[str, str],
        content: bytes | None,
        params: dict[str, str] | None,
        allowed_hosts: Iterable[str],
        *,
        retry: bool,
    ) -> HttpResult:
        attempts = 0
        started = time.perf_counter()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(1 + (self._settings.api_retries if retry else 0)),
            wait=wait_exponential_jitter(
                multiplier=self._settings.api_retry_base,
                jitter=self._settings.api_retry_base,
                max=5.0,
            ),
            retry=retry_if_exception_type((_Retry, httpx.TransportError)),
            reraise=True,
        )
        try:
            async with egress_client(
                self._egress,
                trusted=target.trusted,
                allowed_hosts=allowed_hosts,
                resolver=self._resolver,
                verify=self._verify,
            ) as client:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        response = await client.request(
                            method, target.url, headers=headers, content=content, params=params
                        )
                        if retry and response.status_code in RETRY_STATUSES:
                            raise _Retry(response)
        except _Retry as last:
            response = last.response
        except EgressError as e:
            raise ServiceError(_scrub(f"refused by the egress guard: {e}", target)) from None
        except httpx.HTTPError as e:
            detail = _scrub(str(e), target) or type(e).__name__
            raise ServiceError(
                f"{method} {target.shown} failed after {attempts} attempt(s): "
                f"{type(e).__name__}: {detail}"
            ) from None
        return self._result(target, method, response, started, attempts)

    def _result(
        self,
        target: _Target,
        method: str,
        response: httpx.Response,
        started: float,
        attempts: int,
    ) -> HttpResult:
        limit = self._settings.response_preview_bytes
        raw = response.content
        truncated = len(raw) > limit
        body: Any = None
        if raw:
            kind = response.headers.get("content-type", "")
            body = None
            if "json" in kind and not truncated:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            if body is None:
                body = raw[:limit].decode(response.encoding or "utf-8", errors="replace")
        return HttpResult(
            endpoint=target.shown,
            method=method,
            status=response.status_code,
            headers={
                k: _scrub(v, target)
                for k, v in response.headers.items()
                if k.lower() not in _HIDDEN_HEADERS
            },
            body=body,
            truncated=truncated,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            attempts=attempts,
        )


def _check_url(url: object) -> str:
    if isinstance(url, str):
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is not None and parsed.scheme in ("http", "https") and parsed.host:
            return url
    raise InvalidInputError(f"invalid URL {url!r}: expected http(s)://host/path")


def _headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidInputError("'headers' must be an object of name -> text")
    out = {}
    for name, value in headers.items():
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            raise InvalidInputError(f"header {name!r} must be one line of text")
        out[str(name)] = value
    return out


def _query(query: Mapping[str, Any] | None) -> dict[str, str] | None:
    if query is None:
        return None
    if not isinstance(query, Mapping):
        raise InvalidInputError("'query' must be an object of name -> value")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in query.items()}


def _scrub(text: str, target: _Target) -> str:
    for secret, shown in target.secret_text:
        text = text.replace(secret, shown)
    return text
