"""A small Server-Sent Events client for the API tests: one (event, JSON data) per event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    kind: str
    data: Any


async def read_events(response: httpx.Response) -> AsyncIterator[Event]:
    """Parse ``response``'s body as it arrives (``event:``/``data:`` lines, blank line ends)."""
    kind, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Event(kind, json.loads("\n".join(data)))
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
    if data:
        yield Event(kind, json.loads("\n".join(data)))


async def stream(
    client: httpx.AsyncClient, url: str, *, json_body: Any = None, headers: dict[str, str]
) -> list[Event]:
    """POST ``url`` and collect its event stream (a non-stream answer fails the test)."""
    async with client.stream("POST", url, json=json_body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            raise AssertionError(f"{response.status_code}: {response.text}")
        assert response.headers["content-type"].startswith("text/event-stream")
        return [event async for event in read_events(response)]


def kinds(events: list[Event]) -> list[str]:
    """The event kinds, consecutive ``text`` chunks counted once."""
    out: list[str] = []
    for event in events:
        if not (event.kind == "text" and out and out[-1] == "text"):
            out.append(event.kind)
    return out


def text(events: list[Event]) -> str:
    """The streamed text."""
    return "".join(e.data["text"] for e in events if e.kind == "text")


def done(events: list[Event]) -> Any:
    """The ``done`` event's answer (the stream's last event)."""
    assert events[-1].kind == "done", events[-1]
    return events[-1].data
