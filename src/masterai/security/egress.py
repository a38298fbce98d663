"""Outbound HTTP: the one guarded client factory for every request the server sends.

Every HTTP request Master AI sends to a destination goes through a client made here: the LLM
SDKs take one as ``http_client=`` (:meth:`EgressPolicy.httpx_client` for ``openai``,
:meth:`EgressPolicy.httpx2_client` for ``anthropic``, which uses ``httpx2``), and so will
integrations, webhooks and fine-tuning. The guard sits at the socket layer (an ``httpcore``
network backend), not in a URL check that a second DNS answer could undo:

- **per new connection** the host is resolved once, every address is classified, and the
  connection goes to exactly an address that passed, so DNS rebinding has no second lookup
  to win. Refused unless ``egress.allowed_networks`` names them: loopback, private,
  link-local, carrier-grade NAT (100.64/10), multicast, unspecified (``0.0.0.0``, ``::``),
  reserved, cloud metadata addresses (:data:`METADATA_ADDRESSES`), and their IPv4-mapped,
  NAT64, 6to4, Teredo and IPv4-compatible IPv6 forms. Ports outside ``egress.allowed_ports``
  are refused too (addresses in allowed networks may use any port);
- **per request** (each redirect hop is a request of its own): only ``http`` and ``https``;
  the host must match the principal's allowed domains when the client is built for one;
  credential headers (:data:`CREDENTIAL_HEADERS`) reach only the origins named for them;
- no proxies from the environment (``HTTP_PROXY``, ...); at most ``egress.max_redirects`` hops;
  response bodies cut at ``egress.max_response_bytes`` (requests ask for the ``identity``
  encoding and compressed answers are refused, so the bytes counted are the body);
  ``egress.timeout`` seconds.

Destinations the operator configured (provider base URLs, named APIs) are *trusted*: the
guard refuses nothing for their origin, while a redirect elsewhere is checked like any other
request.

Example:
    ```python
    from masterai.security.egress import egress_client

    domains = principal.permissions.integrations.allowed_domains
    async with egress_client(settings.egress, allowed_hosts=domains) as client:
        response = await client.post(webhook_url, json=payload)  # 127.0.0.1: EgressRefused
    ```

Errors (raised from the client's ``send`` or while the body is read):

```
EgressError                     root (a SecurityError)
├── EgressSettingsError         egress settings are malformed (a CIDR, a URL)
├── EgressRefused               the destination is not allowed: scheme, host, address, port
└── EgressResponseTooLarge      the response body exceeds max_response_bytes
```
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import socket
import ssl
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from masterai.security.errors import SecurityError
from masterai.security.permissions import IPAddress, IPNetwork, host_allowed
from masterai.settings import EgressSettings

if TYPE_CHECKING:
    import httpx2

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""``(host, port) -> addresses``: how a host name becomes addresses (tests pass their own)."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
"""Cloud instance-metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba)."""

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "openai-organization",
        "openai-project",
    }
)
"""Headers removed from requests to origins not named in ``credentials_for``."""

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_EMBEDDING: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("64:ff9b::/96"), "a NAT64"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a local-use NAT64"),
    (ipaddress.ip_network("2002::/16"), "a 6to4"),
    (ipaddress.ip_network("2001::/32"), "a Teredo"),
    (ipaddress.ip_network("::/96"), "an IPv4-compatible"),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMES = frozenset(_DEFAULT_PORTS)
_FIX = "MASTERAI_EGRESS__ALLOWED_NETWORKS"


class EgressError(SecurityError):
    """Root of the egress guard's errors."""


class EgressSettingsError(EgressError):
    """The egress settings (or a trusted URL) are malformed."""


class EgressRefused(EgressError):
    """The destination of a request is not allowed."""


class EgressResponseTooLarge(EgressError):
    """A response body is larger than ``max_response_bytes``."""


_KINDS: tuple[tuple[Callable[[IPAddress], bool], str], ...] = (
    (lambda a: a.is_link_local, "link-local"),
    (lambda a: a.is_multicast, "multicast"),
    (lambda a: a in _CGNAT, "carrier-grade NAT (100.64.0.0/10)"),
    (lambda a: a.is_private, "private"),
    (lambda a: a.is_reserved, "reserved"),
    (lambda a: not a.is_global, "not globally routable"),
)


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached, or ``None`` for a public address.

    The answer reads after "which is": ``loopback``, ``a cloud metadata address``, ...
    """
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedding_refusal(address)
        if embedded is not None:
            return embedded or None
    return next((kind for test, kind in _KINDS if test(address)), None)


def _embedding_refusal(address: ipaddress.IPv6Address) -> str | None:
    """For an IPv6 form of an IPv4 address: the refusal (``""``: a public one); else ``None``."""
    mapped = address.ipv4_mapped
    if mapped is not None:
        inner = address_refusal(mapped)
        return "" if inner is None else f"the IPv4-mapped form of {mapped} ({inner})"
    for network, name in _EMBEDDING:
        if address in network:
            return f"{name} address (it embeds an IPv4 address)"
    return None


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) of ``egress.allowed_networks``.

    Raises:
        EgressSettingsError: naming the malformed entry.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as error:
            raise EgressSettingsError(
                f"invalid network {value!r} in egress.allowed_networks ({_FIX}): {error}; "
                'expected CIDRs such as ["127.0.0.1/32", "10.0.0.0/8"]'
            ) from error
    return tuple(networks)


@dataclass(frozen=True)
class Origin:
    """Scheme, host (ASCII, lower case, IPv6 without brackets) and port of a URL."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of ``url``.

        Raises:
            EgressSettingsError: not an absolute http(s) URL.
        """
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise EgressSettingsError(f"invalid URL {url!r}: {error}") from error
        if parsed.scheme not in _SCHEMES or not parsed.raw_host:
            raise EgressSettingsError(f"invalid URL {url!r}: expected http(s)://host/...")
        return cls.from_parts(parsed.scheme, parsed.raw_host, parsed.port)

    @classmethod
    def from_parts(cls, scheme: str, raw_host: bytes, port: int | None) -> Origin:
        """The origin of a parsed URL's parts (``port=None``: the scheme's default)."""
        scheme = scheme.lower()
        return cls(
            scheme=scheme,
            host=raw_host.decode("ascii").lower().rstrip("."),
            port=port if port is not None else _DEFAULT_PORTS.get(scheme, 0),
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class EgressPolicy:
    """What one client may reach (see the module docstring); build it with :meth:`from_settings`."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    """Networks reachable although private, loopback, ... (any port)."""
    allowed_ports: frozenset[int] = frozenset({80, 443, 8080, 8443})
    max_redirects: int = 5
    max_response_bytes: int = 10 * 1024**2
    timeout: float = 30.0
    trusted: frozenset[Origin] = frozenset()
    """Origins the operator configured: nothing is refused for them."""
    allowed_hosts: frozenset[str] | None = None
    """The principal's ``integrations.allowed_domains`` (names, addresses, CIDR blocks) that
    every request's host must match; ``None``: not limited by a principal."""
    credentials_for: frozenset[Origin] = frozenset()
    """Origins that may receive :data:`CREDENTIAL_HEADERS`."""

    @classmethod
    def from_settings(
        cls,
        settings: EgressSettings,
        *,
        trusted: Iterable[str] = (),
        allowed_hosts: Iterable[str] | None = None,
        credentials_for: Iterable[str] | None = None,
    ) -> EgressPolicy:
        """The policy of ``settings`` for one client.

        Args:
            settings: the ``egress`` settings.
            trusted: URLs the operator configured (their origins are reached as configured).
            allowed_hosts: the principal's allowed domains, for destinations chosen in a call.
            credentials_for: URLs whose origins may receive credential headers (default: the
                trusted ones).

        Raises:
            EgressSettingsError: a malformed network or URL.
        """
        trusted_origins = frozenset(Origin.of(url) for url in trusted)
        return cls(
            allowed_networks=parse_networks(settings.allowed_networks),
            allowed_ports=frozenset(settings.allowed_ports),
            max_redirects=settings.max_redirects,
            max_response_bytes=settings.max_response_bytes,
            timeout=settings.timeout,
            trusted=trusted_origins,
            allowed_hosts=None if allowed_hosts is None else frozenset(allowed_hosts),
            credentials_for=(
                trusted_origins
                if credentials_for is None
                else frozenset(Origin.of(url) for url in credentials_for)
            ),
        )

    def is_trusted(self, host: str, port: int) -> bool:
        """Whether ``host:port`` is the origin of a trusted (operator-configured) URL."""
        host = host.lower().rstrip(".")
        return any(o.host == host and o.port == port for o in self.trusted)

    def check_request(self, origin: Origin, host: str) -> None:
        """Refuse a request (or redirect hop) by its scheme and host.

        Args:
            origin: the request's origin.
            host: the host as written (Unicode for an IDN), matched besides the ASCII form.

        Raises:
            EgressRefused: a scheme other than http(s), or a host outside ``allowed_hosts``.
        """
        if origin.scheme not in _SCHEMES:
            raise EgressRefused(
                f"scheme {origin.scheme!r} is not allowed for outbound requests: http or https"
            )
        if origin in self.trusted or self.allowed_hosts is None:
            return
        if not (
            host_allowed(self.allowed_hosts, origin.host) or host_allowed(self.allowed_hosts, host)
        ):
            allowed = ", ".join(sorted(self.allowed_hosts)) or "none"
            raise EgressRefused(
                f"host {host!r} is not in the allowed domains ({allowed}); "
                "grant integrations.allowed_domains"
            )

    def in_allowed_network(self, address: IPAddress) -> bool:
        """Whether ``address`` (or the IPv4 address it maps) is in ``allowed_networks``."""
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return any(
            (address.version == n.version and address in n)
            or (mapped is not None and n.version == 4 and mapped in n)
            for n in self.allowed_networks
        )

    def connectable(self, host: str, port: int, addresses: Sequence[IPAddress]) -> list[IPAddress]:
        """The addresses of ``host`` a connection to ``port`` may use, in resolver order.

        Raises:
            EgressRefused: none may be used; the message names the first refused address.
        """
        allowed: list[IPAddress] = []
        first: str | None = None
        for address in addresses:
            reason = None
            if not self.in_allowed_network(address):
                refusal = address_refusal(address)
                if refusal is not None:
                    reason = (
                        f"{host!r} resolves to {address}, which is {refusal}; outbound requests "
                        f"reach only public addresses and networks listed in {_FIX}"
                    )
                elif port not in self.allowed_ports:
                    ports = ", ".join(str(p) for p in sorted(self.allowed_ports)) or "none"
                    reason = (
                        f"port {port} of {host!r} is not allowed. Allowed ports: {ports} "
                        "(MASTERAI_EGRESS__ALLOWED_PORTS)"
                    )
            if reason is None:
                allowed.append(address)
            elif first is None:
                first = reason
        if not allowed:
            raise EgressRefused(first or f"{host!r} resolves to no address")
        return allowed

    def httpx_client(
        self, *, resolver: Resolver | None = None, verify: ssl.SSLContext | None = None
    ) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` that applies this policy (the ``openai`` SDK's kind).

        Args:
            resolver: host name resolution (default: the system resolver, once per connection).
            verify: TLS context (default: the system's trust store, host names verified).
        """
        client: httpx.AsyncClient = _client("httpx", self, resolver, verify)
        return client

    def httpx2_client(
        self, *, resolver: Resolver | None = None, verify: ssl.SSLContext | None = None
    ) -> httpx2.AsyncClient:
        """An ``httpx2.AsyncClient`` that applies this policy (the ``anthropic`` SDK's kind)."""
        client: httpx2.AsyncClient = _client("httpx2", self, resolver, verify)
        return client


def egress_client(
    settings: EgressSettings,
    *,
    trusted: Iterable[str] = (),
    allowed_hosts: Iterable[str] | None = None,
    credentials_for: Iterable[str] | None = None,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """A guarded ``httpx.AsyncClient``: :meth:`EgressPolicy.from_settings`, then the client.

    For a destination chosen in a call pass the principal's ``allowed_hosts``; for one the
    operator configured pass it in ``trusted``.

    Raises:
        EgressSettingsError: a malformed network or URL.
    """
    policy = EgressPolicy.from_settings(
        settings, trusted=trusted, allowed_hosts=allowed_hosts, credentials_for=credentials_for
    )
    return policy.httpx_client(resolver=resolver, verify=verify)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (``getaddrinfo``), without duplicates."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


# --- the httpx / httpx2 plumbing ------------------------------------------------------------
# httpx and httpx2 (with httpcore and httpcore2) have the same shape, so each class below is
# written once and combined with the base class of either library in _flavour().

_ERROR_NAMES = (
    "TimeoutException",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "NetworkError",
    "ConnectError",
    "ReadError",
    "WriteError",
    "ProxyError",
    "UnsupportedProtocol",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
)


@dataclass(frozen=True, kw_only=True)
class _Flavour:
    http: Any
    """``httpx`` or ``httpx2``."""
    core: Any
    """``httpcore`` or ``httpcore2``."""
    transport: type[Any]
    backend: type[Any]
    stream: type[Any]
    errors: Mapping[type[BaseException], type[BaseException]]
    """The core library's exceptions and the client library's equivalents."""


@contextmanager
def _mapped(errors: Mapping[type[BaseException], type[BaseException]]) -> Iterator[None]:
    """Raise the client library's exception for a core library's one."""
    try:
        yield
    except EgressError:
        raise
    except Exception as error:
        for cls in type(error).__mro__:
            target = errors.get(cls)
            if target is not None:
                raise target(str(error)) from error
        raise


class _GuardedBackend:
    """Network backend: resolve once, check every address, connect to a checked one."""

    def __init__(self, *, policy: EgressPolicy, resolver: Resolver, flavour: _Flavour) -> None:
        self._policy = policy
        self._resolver = resolver
        self._core = flavour.core
        self._inner = flavour.core.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        async def connect(target: str) -> Any:
            return await self._inner.connect_tcp(
                target,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )

        if self._policy.is_trusted(host, port):
            return await connect(host)
        addresses = await self._resolve(host, port, timeout)
        error: Exception | None = None
        for address in self._policy.connectable(host, port, addresses):
            try:
                # The checked address itself: no second lookup for a rebinding DNS to answer.
                return await connect(str(address))
            except (self._core.ConnectError, self._core.ConnectTimeout) as failed:
                error = failed
        assert error is not None  # connectable() returns at least one address
        raise error

    async def _resolve(self, host: str, port: int, timeout: float | None) -> Sequence[IPAddress]:
        try:
            with anyio.fail_after(timeout):
                return await self._resolver(host, port)
        except TimeoutError as error:
            raise self._core.ConnectTimeout(f"resolving {host!r} took over {timeout}s") from error
        except OSError as error:
            raise self._core.ConnectError(f"cannot resolve {host!r}: {error}") from error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> Any:
        raise EgressRefused(f"Unix socket {path!r} is not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _LimitedStream:
    """A response body that stops with :class:`EgressResponseTooLarge` past the limit."""

    def __init__(self, stream: Any, *, limit: int, flavour: _Flavour, where: Origin) -> None:
        self._stream = stream
        self._limit = limit
        self._errors = flavour.errors
        self._where = where

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        with _mapped(self._errors):
            async for chunk in self._stream:
                received += len(chunk)
                if received > self._limit:
                    raise EgressResponseTooLarge(_too_large(self._where, self._limit))
                yield chunk

    async def aclose(self) -> None:
        with _mapped(self._errors):
            await self._stream.aclose()


def _too_large(where: Origin, limit: int, declared: int | None = None) -> str:
    size = f" (it declares {declared} bytes)" if declared is not None else ""
    return (
        f"the response from {where} is larger than {limit} bytes{size}; it was cut. Raise "
        "MASTERAI_EGRESS__MAX_RESPONSE_BYTES if that is expected"
    )


class _GuardedTransport:
    """Transport: check each request, strip credentials, cap the response."""

    def __init__(self, *, policy: EgressPolicy, flavour: _Flavour, pool: Any) -> None:
        self._policy = policy
        self._flavour = flavour
        self._pool = pool

    async def handle_async_request(self, request: Any) -> Any:
        url = request.url
        origin = Origin.from_parts(url.scheme, url.raw_host, url.port)
        self._policy.check_request(origin, url.host)
        if origin not in self._policy.credentials_for:
            for name in CREDENTIAL_HEADERS & {k.lower() for k in request.headers}:
                del request.headers[name]
        request.headers["accept-encoding"] = "identity"
        core = self._flavour.core
        core_request = core.Request(
            method=request.method,
            url=core.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped(self._flavour.errors):
            response = await self._pool.handle_async_request(core_request)
        try:
            self._check_response(response, origin)
        except EgressError:
            await response.aclose()
            raise
        stream = self._flavour.stream(
            response.stream,
            limit=self._policy.max_response_bytes,
            flavour=self._flavour,
            where=origin,
        )
        return self._flavour.http.Response(
            status_code=response.status,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    def _check_response(self, response: Any, origin: Origin) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise EgressRefused(
                f"the response from {origin} is compressed ({encoding}) although the request "
                "asked for none; compressed bodies are refused so that the size limit holds"
            )
        declared = headers.get("content-length", "").strip()
        limit = self._policy.max_response_bytes
        if declared.isdigit() and int(declared) > limit:
            raise EgressResponseTooLarge(_too_large(origin, limit, int(declared)))

    async def aclose(self) -> None:
        with _mapped(self._flavour.errors):
            await self._pool.aclose()


@functools.cache
def _flavour(name: str) -> _Flavour:
    http = importlib.import_module(name)
    core = importlib.import_module({"httpx": "httpcore", "httpx2": "httpcore2"}[name])
    return _Flavour(
        http=http,
        core=core,
        transport=type("GuardedTransport", (_GuardedTransport, http.AsyncBaseTransport), {}),
        backend=type("GuardedNetworkBackend", (_GuardedBackend, core.AsyncNetworkBackend), {}),
        stream=type("LimitedStream", (_LimitedStream, http.AsyncByteStream), {}),
        errors={getattr(core, n): getattr(http, n) for n in _ERROR_NAMES},
    )


def _client(
    name: str, policy: EgressPolicy, resolver: Resolver | None, verify: ssl.SSLContext | None
) -> Any:
    flavour = _flavour(name)
    backend = flavour.backend(policy=policy, resolver=resolver or system_resolver, flavour=flavour)
    pool = flavour.core.AsyncConnectionPool(
        ssl_context=verify or flavour.http.create_ssl_context(),
        network_backend=backend,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
    )
    return flavour.http.AsyncClient(
        transport=flavour.transport(policy=policy, flavour=flavour, pool=pool),
        trust_env=False,  # no proxies (or other settings) from the environment
        follow_redirects=True,  # each hop comes back through the transport and is checked
        max_redirects=policy.max_redirects,
        timeout=policy.timeout,
    )
