"""A wire-level fake of OpenAI's files and fine_tuning endpoints, on loopback.

The real ``openai`` SDK talks to it over HTTP, so request building, multipart upload and
response parsing all run. Each job follows a script of statuses: every retrieve moves it one
step on.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeOpenAI:
    """What the fake received, and how its jobs will progress."""

    statuses: list[str] = field(
        default_factory=lambda: ["validating_files", "running", "succeeded"]
    )
    uploads: list[bytes] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    retrieves: int = 0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, list[str]] = field(default_factory=dict)
    authorization: list[str] = field(default_factory=list)
    base_url: str = ""

    def job(self, job_id: str, status: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        job["status"] = status
        if status == "succeeded":
            job["fine_tuned_model"] = f"ft:{job['model']}:acme::{job_id}"
            job["trained_tokens"] = 2_000_000
            job["finished_at"] = 2
        if status == "failed":
            job["error"] = {"code": "invalid_file", "message": "bad lines", "param": None}
        return job


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def do_POST(self) -> None:
            fake.authorization.append(self.headers.get("authorization", ""))
            body = self._body()
            if self.path == "/v1/files":
                fake.uploads.append(body)
                number = len(fake.uploads)
                self._send(
                    200,
                    {
                        "id": f"file-{number}",
                        "object": "file",
                        "bytes": len(body),
                        "created_at": 1,
                        "filename": "train.jsonl",
                        "purpose": "fine-tune",
                        "status": "processed",
                    },
                )
                return
            if self.path == "/v1/fine_tuning/jobs":
                request = json.loads(body)
                if request["model"] == "refused-model":
                    self._send(
                        400,
                        {
                            "error": {
                                "message": "model not available for fine-tuning",
                                "type": "invalid_request_error",
                                "code": None,
                                "param": "model",
                            }
                        },
                    )
                    return
                fake.created.append(request)
                job_id = f"ftjob-{len(fake.created)}"
                fake.jobs[job_id] = {
                    "id": job_id,
                    "object": "fine_tuning.job",
                    "created_at": 1,
                    "model": request["model"],
                    "status": "validating_files",
                    "training_file": request["training_file"],
                    "validation_file": request.get("validation_file"),
                    "fine_tuned_model": None,
                    "finished_at": None,
                    "error": None,
                    "hyperparameters": {"n_epochs": "auto"},
                    "organization_id": "org",
                    "result_files": [],
                    "seed": 1,
                    "trained_tokens": None,
                }
                fake.steps[job_id] = list(fake.statuses[1:])
                self._send(200, fake.jobs[job_id])
                return
            match = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)/cancel", self.path)
            if match and match.group(1) in fake.jobs:
                self._send(200, fake.job(match.group(1), "cancelled"))
                return
            self._send(404, {"error": {"message": "not found", "type": "x"}})

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            match = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)(/events)?", path)
            if not match or match.group(1) not in fake.jobs:
                self._send(404, {"error": {"message": "no such job", "type": "x"}})
                return
            job_id = match.group(1)
            if match.group(2):
                events = [
                    {
                        "id": "ev-2",
                        "object": "fine_tuning.job.event",
                        "created_at": 2,
                        "level": "info",
                        "message": "Step 2",
                    },
                    {
                        "id": "ev-1",
                        "object": "fine_tuning.job.event",
                        "created_at": 1,
                        "level": "info",
                        "message": "Validating training file",
                    },
                ]
                self._send(200, {"object": "list", "data": events, "has_more": False})
                return
            fake.retrieves += 1
            steps = fake.steps[job_id]
            status = steps.pop(0) if steps else fake.jobs[job_id]["status"]
            self._send(200, fake.job(job_id, status))

    return Handler


@contextmanager
def serve_fake() -> Iterator[FakeOpenAI]:
    """The fake, listening on 127.0.0.1 until the block ends."""
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
