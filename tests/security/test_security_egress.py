"""The egress guard against real servers on loopback (no HTTP mocks).

Each server is a ``ThreadingHTTPServer`` started by the test; loopback is reachable only when
the test allows it with ``egress.allowed_networks``, exactly as an operator would.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from masterai.security.egress import (
    EgressPolicy,
    EgressRefused,
    EgressResponseTooLarge,
    EgressSettingsError,
    Origin,
    address_refusal,
    egress_client,
)
from masterai.security.permissions import IPAddress
from masterai.settings import EgressSettings

LOOPBACK = ["127.0.0.1/32"]


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    peer: str


@dataclass
class Server:
    """A loopback HTTP server that records requests and answers by path.

    ``/`` answers ``ok``; ``/redirect?to=URL`` a 302 to URL (``/loop`` to itself);
    ``/big?n=N`` N bytes with a
    Content-Length; ``/stream?n=N`` N bytes delimited by closing the connection; ``/gzip`` a
    gzip body whatever the request asked.
    """

    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.seen.append(Seen(self.path, headers, self.client_address[0]))
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path in ("/redirect", "/loop"):
                    self.send_response(302)
                    self.send_header("location", query.get("to", "/loop"))
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if url.path == "/big":
                    self._send(b"x" * int(query["n"]))
                    return
                if url.path == "/stream":
                    self.send_response(200)
                    self.end_headers()  # no length: the body ends when the connection closes
                    for _ in range(int(query["n"]) // 1024):
                        self.wfile.write(b"x" * 1024)
                    return
                if url.path == "/gzip":
                    self._send(gzip.compress(b"x" * 1000), {"content-encoding": "gzip"})
                    return
                self._send(b"ok")

            def _send(self, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(200)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self.httpd.daemon_threads = True
        if self.tls is not None:

            def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
                server.sni.append(name)

            self.tls.sni_callback = record_sni
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture
def other() -> Iterator[Server]:
    """A second server, on 127.0.0.2 (loopback too, but another address)."""
    running = Server(host="127.0.0.2")
    yield running
    running.close()


def settings(**values: Any) -> EgressSettings:
    return EgressSettings(timeout=5, **values)


async def get(url: str, egress: EgressSettings, **kwargs: Any) -> httpx.Response:
    """One GET through a guarded client, body read."""
    async with egress_client(egress, **kwargs) as client:
        return await client.get(url)


def resolver(*answers: Sequence[str]) -> Any:
    """A resolver answering the given addresses, one answer per lookup (the last repeats)."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        answer = answers[min(len(calls), len(answers)) - 1]
        return [ipaddress.ip_address(a) for a in answer]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# --- addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.1", "loopback"),
        ("[::ffff:127.0.0.1]", "the IPv4-mapped form of 127.0.0.1 (loopback)"),
        ("localhost", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("[::1]", "loopback"),
    ],
)
async def test_every_spelling_of_loopback_is_refused_and_reaches_nothing(
    server: Server, host: str, reason: str
) -> None:
    with pytest.raises(EgressRefused, match=re.escape(f"which is {reason}")) as caught:
        await get(server.url(host=host), settings())
    assert "MASTERAI_EGRESS__ALLOWED_NETWORKS" in str(caught.value)
    assert server.seen == []


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("[fd00:ec2::254]", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.1.1", "link-local"),
        ("[fe80::1]", "link-local"),
        ("[fc00::1]", "private"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("[::]", "unspecified"),
        ("[::ffff:169.254.169.254]", "the IPv4-mapped form of 169.254.169.254"),
        ("[::ffff:10.0.0.1]", "the IPv4-mapped form of 10.0.0.1 (private)"),
        ("[64:ff9b::7f00:1]", "a NAT64 address"),
        ("[64:ff9b::a9fe:a9fe]", "a NAT64 address"),
        ("[2002:7f00:1::]", "a 6to4 address"),
        ("[2002:a9fe:a9fe::]", "a 6to4 address"),
        ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "a Teredo address"),
        ("[::7f00:1]", "an IPv4-compatible address"),
        ("198.18.0.1", "private"),
    ],
)
async def test_metadata_private_and_embedded_ipv4_addresses_are_refused_before_connecting(
    host: str, reason: str
) -> None:
    with pytest.raises(EgressRefused, match=re.escape(f"which is {reason}")):
        await get(f"http://{host}/latest/meta-data/", settings())


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_not_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


async def test_a_network_in_allowed_networks_is_reached_on_any_port(server: Server) -> None:
    assert server.port not in EgressSettings().allowed_ports
    response = await get(server.url(), settings(allowed_networks=LOOPBACK))
    assert (response.status_code, response.text) == (200, "ok")
    assert [s.path for s in server.seen] == ["/"]


async def test_loopback_outside_the_allowed_networks_is_refused(
    server: Server, other: Server
) -> None:
    only_other = settings(allowed_networks=["127.0.0.2/32"])
    assert (await get(other.url(), only_other)).text == "ok"
    with pytest.raises(
        EgressRefused, match=re.escape("'127.0.0.1' resolves to 127.0.0.1, which is loopback")
    ):
        await get(server.url(), only_other)
    assert server.seen == []


async def test_a_port_outside_the_allow_list_is_refused_for_a_public_address() -> None:
    public = resolver(["93.184.215.14"])
    with pytest.raises(EgressRefused, match=r"port 6379 of 'cache.example' is not allowed"):
        await get("http://cache.example:6379/", settings(), resolver=public)
    policy = EgressPolicy.from_settings(settings())
    address = ipaddress.ip_address("93.184.215.14")
    assert policy.connectable("api.example", 443, [address]) == [address]


# --- per request: scheme, redirects, hosts, credentials ---------------------------------


async def test_only_http_and_https_are_allowed() -> None:
    policy = EgressPolicy.from_settings(settings(allowed_networks=LOOPBACK))
    with pytest.raises(EgressRefused, match="scheme 'ftp' is not allowed"):
        policy.check_request(Origin.from_parts("ftp", b"127.0.0.1", 21), "127.0.0.1")
    async with policy.httpx_client() as client:
        with pytest.raises((EgressRefused, httpx.UnsupportedProtocol)):
            await client.get("ftp://127.0.0.1/")


async def test_a_redirect_from_an_allowed_server_to_a_refused_one_is_refused_on_its_hop(
    server: Server, other: Server
) -> None:
    hop = server.url(f"/redirect?to={other.url('/secret')}")
    with pytest.raises(
        EgressRefused, match=re.escape("'127.0.0.2' resolves to 127.0.0.2, which is loopback")
    ):
        await get(hop, settings(allowed_networks=LOOPBACK))
    assert [s.path for s in server.seen] == [urlsplit(hop).path + "?" + urlsplit(hop).query]
    assert other.seen == []


async def test_a_redirect_to_the_metadata_address_is_refused(server: Server) -> None:
    hop = server.url("/redirect?to=http://169.254.169.254/latest/meta-data/")
    with pytest.raises(EgressRefused, match="a cloud metadata address"):
        await get(hop, settings(allowed_networks=LOOPBACK))


async def test_redirects_stop_after_max_redirects(server: Server) -> None:
    with pytest.raises(httpx.TooManyRedirects):
        await get(server.url("/loop"), settings(allowed_networks=LOOPBACK, max_redirects=2))
    assert len(server.seen) == 3  # the request and two redirects


async def test_a_host_outside_the_principals_domains_is_refused_on_every_hop(
    server: Server,
) -> None:
    egress = settings(allowed_networks=LOOPBACK)
    assert (await get(server.url(), egress, allowed_hosts={"127.0.0.1"})).text == "ok"
    with pytest.raises(EgressRefused, match="host 'localhost' is not in the allowed domains"):
        await get(server.url(host="localhost"), egress, allowed_hosts={"127.0.0.1"})
    hop = server.url(f"/redirect?to={server.url(host='localhost')}")
    with pytest.raises(EgressRefused, match="host 'localhost' is not in the allowed domains"):
        await get(hop, egress, allowed_hosts={"127.0.0.0/8"})
    assert [s.headers["host"] for s in server.seen] == [f"127.0.0.1:{server.port}"] * 2


async def test_credential_headers_reach_only_the_origins_named_for_them(
    server: Server, other: Server
) -> None:
    egress = settings(allowed_networks=["127.0.0.0/8"])
    secrets = {"authorization": "Bearer sk-operator", "x-api-key": "sk-operator", "x-trace": "1"}
    client = egress_client(egress, credentials_for=[server.url()])
    async with client:
        await client.get(server.url(f"/redirect?to={other.url('/')}"), headers=secrets)
        await client.get(other.url(), headers=secrets)
    assert server.seen[0].headers["authorization"] == "Bearer sk-operator"
    for seen in other.seen:
        assert "authorization" not in seen.headers
        assert "x-api-key" not in seen.headers
        assert seen.headers["x-trace"] == "1"
    assert len(other.seen) == 2


async def test_a_trusted_destination_is_reached_as_configured_but_not_its_redirects(
    server: Server, other: Server
) -> None:
    trusted = {"trusted": [server.url()]}
    assert (await get(server.url(), settings(), **trusted)).text == "ok"
    with pytest.raises(
        EgressRefused, match=re.escape("'127.0.0.2' resolves to 127.0.0.2, which is loopback")
    ):
        await get(server.url(f"/redirect?to={other.url()}"), settings(), **trusted)
    assert other.seen == []


# --- the environment, sizes, encodings -----------------------------------------------------


async def test_proxies_in_the_environment_are_ignored(
    server: Server, other: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, other.url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = await get(server.url("/direct"), settings(allowed_networks=["127.0.0.0/8"]))
    assert response.text == "ok"
    assert [s.path for s in server.seen] == ["/direct"]
    assert other.seen == []


@pytest.mark.parametrize("path", ["/big?n=4096", "/stream?n=65536"])
async def test_a_response_over_the_size_limit_is_cut_with_a_clear_error(
    server: Server, path: str
) -> None:
    egress = settings(allowed_networks=LOOPBACK, max_response_bytes=2048)
    with pytest.raises(EgressResponseTooLarge, match="larger than 2048 bytes") as caught:
        await get(server.url(path), egress)
    assert "MASTERAI_EGRESS__MAX_RESPONSE_BYTES" in str(caught.value)
    assert (await get(server.url("/big?n=2048"), egress)).content == b"x" * 2048


async def test_a_compressed_answer_is_refused_because_identity_was_asked(server: Server) -> None:
    with pytest.raises(EgressRefused, match=r"compressed \(gzip\)"):
        await get(server.url("/gzip"), settings(allowed_networks=LOOPBACK))
    assert server.seen[0].headers["accept-encoding"] == "identity"


# --- DNS: one lookup per connection, the checked address is the one used --------------------


async def test_the_connection_goes_to_the_checked_address_after_a_single_lookup(
    server: Server,
) -> None:
    # A rebinding resolver: a second lookup would answer the metadata address.
    rebinding = resolver(["127.0.0.1"], ["169.254.169.254"])
    response = await get(
        f"http://rebind.example:{server.port}/",
        settings(allowed_networks=LOOPBACK),
        resolver=rebinding,
    )
    assert response.text == "ok"
    assert rebinding.calls == ["rebind.example"]
    assert server.seen[0].headers["host"] == f"rebind.example:{server.port}"
    assert server.seen[0].peer == "127.0.0.1"


async def test_a_rebinding_answer_for_a_new_connection_is_checked_again(server: Server) -> None:
    rebinding = resolver(["127.0.0.1"], ["169.254.169.254"])
    url = f"http://rebind.example:{server.port}/"
    async with egress_client(settings(allowed_networks=LOOPBACK), resolver=rebinding) as client:
        assert (await client.get(url)).text == "ok"  # HTTP/1.0: the server closes
        with pytest.raises(
            EgressRefused, match=re.escape("169.254.169.254, which is a cloud metadata")
        ):
            await client.get(url)
    assert len(server.seen) == 1


async def test_a_name_with_a_refused_and_an_allowed_address_connects_to_the_allowed_one(
    server: Server,
) -> None:
    mixed = resolver(["10.0.0.1", "127.0.0.1"])
    response = await get(
        f"http://mixed.example:{server.port}/",
        settings(allowed_networks=LOOPBACK),
        resolver=mixed,
    )
    assert response.text == "ok"
    assert server.seen[0].peer == "127.0.0.1"


# --- TLS: the address is pinned, the name is still verified ---------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


def _tls_server(tmp_path: Path, name: str) -> tuple[Server, ssl.SSLContext]:
    key, cert = _certificate(tmp_path, name)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    return Server(tls=served), trusting


async def test_tls_verifies_the_host_name_and_sends_it_as_sni_to_the_pinned_address(
    tmp_path: Path,
) -> None:
    tls, trusting = _tls_server(tmp_path, "egress.example")
    try:
        response = await get(
            f"https://egress.example:{tls.port}/",
            settings(allowed_networks=LOOPBACK),
            resolver=resolver(["127.0.0.1"]),
            verify=trusting,
        )
    finally:
        tls.close()
    assert response.text == "ok"
    assert tls.sni == ["egress.example"]
    assert tls.seen[0].headers["host"] == f"egress.example:{tls.port}"


async def test_tls_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    tls, trusting = _tls_server(tmp_path, "other.example")
    try:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await get(
                f"https://egress.example:{tls.port}/",
                settings(allowed_networks=LOOPBACK),
                resolver=resolver(["127.0.0.1"]),
                verify=trusting,
            )
    finally:
        tls.close()
    assert tls.seen == []


# --- the httpx2 flavour and the settings ----------------------------------------------------


async def test_the_httpx2_client_applies_the_same_guard(server: Server, other: Server) -> None:
    policy = EgressPolicy.from_settings(settings(allowed_networks=LOOPBACK))
    async with policy.httpx2_client() as client:
        assert (await client.get(server.url())).text == "ok"
        with pytest.raises(EgressRefused, match=re.escape("127.0.0.2, which is loopback")):
            await client.get(server.url(f"/redirect?to={other.url()}"))
        with pytest.raises(EgressRefused, match="which is loopback"):
            await client.get(other.url(host="2130706434"))  # 127.0.0.2
    assert other.seen == []


def test_a_malformed_allowed_network_is_reported_with_the_fix() -> None:
    with pytest.raises(
        EgressSettingsError, match=re.escape("invalid network '127.0.0.1/33'")
    ) as caught:
        EgressPolicy.from_settings(settings(allowed_networks=["127.0.0.1/33"]))
    assert "MASTERAI_EGRESS__ALLOWED_NETWORKS" in str(caught.value)
