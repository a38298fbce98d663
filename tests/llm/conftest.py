"""Fixtures of the LLM tests: loopback servers speaking the providers' wire protocols."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llm_wire import AnthropicDialect, Dialect, FakeServer, OpenAIDialect


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture(params=[OpenAIDialect(), AnthropicDialect()], ids=lambda d: d.name)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param  # type: ignore[no-any-return]
