"""A loopback server speaking OpenAI's ``POST /v1/embeddings``, so the real SDK client runs.

Vectors are computed from the text (a small hashing embedder), so similar texts get similar
vectors; ``fail_next`` answers with an HTTP error instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from masterai.services.rag import HashingEmbedder


@dataclass
class FakeEmbeddings:
    """What the server saw, and what it should do next."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0


@contextmanager
def fake_embeddings_server(dimension: int = 48) -> Iterator[FakeEmbeddings]:
    """Serve ``/v1/embeddings`` on 127.0.0.1 until the block ends."""
    hashing = HashingEmbedder(dimension)
    state = FakeEmbeddings(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            state.requests.append(
                {"path": self.path, "auth": self.headers.get("authorization"), "body": body}
            )
            if state.fail_next:
                state.fail_next -= 1
                self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                return
            inputs = body["input"]
            vectors = hashing.embed_sync(inputs)
            data = [
                {"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                for i, v in enumerate(vectors)
            ]
            usage = {"prompt_tokens": 1, "total_tokens": 1}
            self._send(
                200, {"object": "list", "data": data, "model": body["model"], "usage": usage}
            )

        def _send(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
