"""Helpers of the integration tests: settings, one registry call, an HTTP receiver on loopback.

The fixtures here (a SQLite store, a registry over it, the receiver) serve the integration and
the monitor tests; their conftests import them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from masterai.registry import ExecutionContext, ToolRegistry, ToolResult, approve_all
from masterai.security import Principal, UserDirectory
from masterai.settings import EgressSettings, IntegrationsSettings, Settings
from masterai.store import Database
from masterai.tools import build_registry


@dataclass
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the receiver got and how it answers (``answers`` is consumed, then ``default``)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, bytes, dict[str, str]] = (200, b'{"ok": true}', {})
    respond: Callable[[Received], tuple[int, bytes, dict[str, str]]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 (a random port) that records every request."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            got = Received(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
            )
            with state.lock:
                state.requests.append(got)
                if state.respond is not None:
                    status, body, headers = state.respond(got)
                else:
                    status, body, headers = state.answers.pop(0) if state.answers else state.default
            self.send_response(status)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            for k, v in headers.items():
                if k != "Content-Type":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings under ``tmp_path`` whose egress guard lets tests reach 127.0.0.1."""
    integrations = overrides.pop("integrations", {})
    return Settings(
        home=tmp_path / "home",
        egress=EgressSettings(allowed_networks=["127.0.0.1/32"], timeout=5),
        integrations=IntegrationsSettings(
            **{
                "webhook_retry_base": 0,
                "api_retries": 2,
                "api_retry_base": 0.01,
                "statement_timeout": 1,
                **integrations,
            }
        ),
        **overrides,
    )


async def run(
    registry: ToolRegistry, who: Principal, operation: str, *, approve: bool = True, **args: Any
) -> ToolResult:
    """One ``integration`` call through the registry."""
    context = ExecutionContext(principal=who, approver=approve_all if approve else None)
    return await registry.execute_tool("integration", {"operation": operation, **args}, context)


@pytest.fixture
def store(sqlite_database: Database) -> Database:
    """A migrated SQLite database (these tests need no second engine)."""
    return sqlite_database


@pytest.fixture
def registry(settings: Settings, store: Database) -> ToolRegistry:
    """The built-in tools over ``store``, with the test directory's ``settings``."""
    return build_registry(settings, store)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP receiver on loopback for the test."""
    with http_receiver() as state:
        yield state


def staff(store: Database) -> UserDirectory:
    """Companies acme and globex; root (super admin), ada (admin of acme), vic (viewer)."""
    directory = UserDirectory(store)
    directory.add_company("acme", "Acme")
    directory.add_company("globex", "Globex")
    directory.add_user("root", "super_admin")
    directory.add_user("ada", "admin", companies={"acme": "write"})
    directory.add_user("vic", "viewer", companies={"acme": "read"})
    return directory
