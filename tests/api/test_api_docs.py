"""docs/http.md and the app agree: the endpoints it names exist, and every endpoint is named."""

from __future__ import annotations

import re
from pathlib import Path

from masterai.api import create_app
from masterai.app import Platform
from masterai.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "http.md"
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def operations() -> set[tuple[str, str]]:
    document = create_app(Platform(Settings(home=Path("unused")))).openapi()
    return {
        (method.upper(), PLACEHOLDER.sub("{}", path))
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/api/v1")
    }


def named_in_tables(text: str) -> set[tuple[str, str]]:
    found = re.findall(r"`(GET|POST|DELETE) (/api/v1/[^`?\s\[]*)", text)
    return {(method, PLACEHOLDER.sub("{}", path)) for method, path in found}


def curl_calls(text: str) -> list[tuple[str, str]]:
    commands = re.findall(r"\$ curl ((?:.*\\\n)*.*)", text)
    calls = []
    for command in commands:
        url = re.search(r"https?://127\.0\.0\.1:8000(/[^\s\"'?]*)", command)
        assert url, command
        explicit = re.search(r"-X (\w+)", command)
        method = explicit.group(1) if explicit else ("POST" if " -d " in command else "GET")
        calls.append((method, url.group(1)))
    return calls


def template_of(path: str, known: set[tuple[str, str]], method: str) -> str | None:
    for known_method, template in known:
        pattern = re.escape(template).replace(r"\{\}", "[^/]+")
        if known_method == method and re.fullmatch(pattern, path):
            return template
    return None


def test_every_api_endpoint_is_documented_and_every_documented_one_exists() -> None:
    documented = named_in_tables(DOC.read_text(encoding="utf-8"))
    assert documented == operations()


def test_every_curl_example_calls_an_endpoint_that_exists() -> None:
    known = operations()
    calls = curl_calls(DOC.read_text(encoding="utf-8"))
    assert len(calls) >= 6
    missing = [(m, p) for m, p in calls if template_of(p, known, m) is None]
    assert missing == []
