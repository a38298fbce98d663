"""Fake provider servers on loopback speaking the OpenAI and Anthropic wire protocols.

The real SDK code runs against them: HTTP, JSON bodies, SSE streams and error statuses are
exactly what the hosted APIs send, with scripted content.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted HTTP answer: a JSON body or an SSE stream."""

    status: int = 200
    body: Any = None
    sse: list[tuple[str | None, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class FakeServer:
    """A loopback HTTP server answering POSTs with the next scripted :class:`Reply`."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                server.requests.append(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = server.replies.popleft() if server.replies else Reply(status=599)
                if reply.hang:
                    server.release.wait(10)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.sse is not None:
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for event, data in reply.sse:
                        text = data if isinstance(data, str) else json.dumps(data)
                        prefix = f"event: {event}\n" if event else ""
                        self.wfile.write(f"{prefix}data: {text}\n\n".encode())
                        self.wfile.flush()
                    return
                payload = json.dumps(reply.body).encode()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


ToolCallSpec = tuple[str, str, str]  # (id, name, raw JSON arguments)


class OpenAIDialect:
    """Bodies as OpenAI's chat-completions endpoint sends them."""

    name = "openai"
    model = "gpt-4o-mini"
    path = "/v1/chat/completions"
    price = (0.15, 0.60)

    def spec(self, url: str) -> str:
        return f"openai:{self.model}@{url}/v1"

    def _completion(self, message: dict[str, Any], finish: str, usage: tuple[int, int]) -> Any:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            },
        }

    def text(self, text: str, usage: tuple[int, int] = (10, 5)) -> Reply:
        message = {"role": "assistant", "content": text}
        return Reply(body=self._completion(message, "stop", usage))

    def tool_calls(self, calls: list[ToolCallSpec], usage: tuple[int, int] = (10, 5)) -> Reply:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                for i, n, a in calls
            ],
        }
        return Reply(body=self._completion(message, "tool_calls", usage))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Any:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _usage_chunk(self, usage: tuple[int, int]) -> Any:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            },
        }

    def stream_text(self, pieces: list[str], usage: tuple[int, int] = (10, 5)) -> Reply:
        events: list[tuple[str | None, Any]] = [(None, self._chunk({"role": "assistant"}))]
        events += [(None, self._chunk({"content": p})) for p in pieces]
        events += [(None, self._chunk({}, "stop")), (None, self._usage_chunk(usage))]
        return Reply(sse=[*events, (None, "[DONE]")])

    def stream_tool_calls(
        self, calls: list[ToolCallSpec], usage: tuple[int, int] = (10, 5)
    ) -> Reply:
        events: list[tuple[str | None, Any]] = []
        for index, (call_id, name, args) in enumerate(calls):
            first = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            events.append((None, self._chunk({"tool_calls": [first]})))
            for start in range(0, len(args), 7):  # arguments split mid-token, as real streams do
                part = {"index": index, "function": {"arguments": args[start : start + 7]}}
                events.append((None, self._chunk({"tool_calls": [part]})))
        events += [(None, self._chunk({}, "tool_calls")), (None, self._usage_chunk(usage))]
        return Reply(sse=[*events, (None, "[DONE]")])

    def error(
        self, status: int, message: str, code: str = "", headers: dict[str, str] | None = None
    ) -> Reply:
        body = {"error": {"message": message, "type": "error", "code": code or None}}
        return Reply(status=status, body=body, headers=headers or {})

    def sent_tool_names(self, body: Any) -> list[str]:
        return [t["function"]["name"] for t in body["tools"]]

    def sent_tool_schema(self, body: Any) -> Any:
        return body["tools"][0]["function"]["parameters"]


class AnthropicDialect:
    """Bodies as Anthropic's messages endpoint sends them."""

    name = "anthropic"
    model = "claude-haiku-4-5"
    path = "/v1/messages"
    price = (1.00, 5.00)

    def spec(self, url: str) -> str:
        return f"anthropic:{self.model}@{url}"

    def _message(self, content: list[Any], stop: str, usage: tuple[int, int]) -> Any:
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
        }

    def text(self, text: str, usage: tuple[int, int] = (10, 5)) -> Reply:
        return Reply(body=self._message([{"type": "text", "text": text}], "end_turn", usage))

    def tool_calls(self, calls: list[ToolCallSpec], usage: tuple[int, int] = (10, 5)) -> Reply:
        content = [
            {"type": "tool_use", "id": i, "name": n, "input": json.loads(a)} for i, n, a in calls
        ]
        return Reply(body=self._message(content, "tool_use", usage))

    def _start(self, usage: tuple[int, int]) -> list[tuple[str | None, Any]]:
        message = self._message([], "", (usage[0], 1))
        message["stop_reason"] = None
        return [("message_start", {"type": "message_start", "message": message})]

    def _end(self, stop: str, usage: tuple[int, int]) -> list[tuple[str | None, Any]]:
        return [
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": usage[1]},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]

    def stream_text(self, pieces: list[str], usage: tuple[int, int] = (10, 5)) -> Reply:
        events = self._start(usage)
        events.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        events += [
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": p},
                },
            )
            for p in pieces
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        return Reply(sse=events + self._end("end_turn", usage))

    def stream_tool_calls(
        self, calls: list[ToolCallSpec], usage: tuple[int, int] = (10, 5)
    ) -> Reply:
        events = self._start(usage)
        for index, (call_id, name, args) in enumerate(calls):
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                )
            )
            for start in range(0, len(args), 7):
                delta = {"type": "input_json_delta", "partial_json": args[start : start + 7]}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        return Reply(sse=events + self._end("tool_use", usage))

    def error(
        self, status: int, message: str, code: str = "", headers: dict[str, str] | None = None
    ) -> Reply:
        kind = code or {
            429: "rate_limit_error",
            401: "authentication_error",
            404: "not_found_error",
        }.get(status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return Reply(status=status, body=body, headers=headers or {})

    def sent_tool_names(self, body: Any) -> list[str]:
        return [t["name"] for t in body["tools"]]

    def sent_tool_schema(self, body: Any) -> Any:
        return body["tools"][0]["input_schema"]


Dialect = OpenAIDialect | AnthropicDialect
