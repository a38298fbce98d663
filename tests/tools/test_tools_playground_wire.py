"""simulate_conversation against fake providers speaking both wire formats on loopback.

The real tool, ``build_model`` and the SDKs run; only the hosted API is replaced, at the
wire (``tests/llm/llm_wire.py``): OpenAI chat completions and Anthropic messages, each
answered whole and streamed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import Principal, role_defaults
from masterai.services.configs import ConfigurationService
from masterai.services.playground import streaming_to
from masterai.settings import EgressSettings, LLMSettings, Settings
from masterai.store import Database
from masterai.store.models import Company
from masterai.tools.playground import PlaygroundConfigurationTool

_LLM_TESTS = str(Path(__file__).resolve().parents[1] / "llm")
if _LLM_TESTS not in sys.path:
    sys.path.append(_LLM_TESTS)

from llm_wire import AnthropicDialect, Dialect, FakeServer, OpenAIDialect  # noqa: E402

pytestmark = [
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
    pytest.mark.parametrize("dialect", [OpenAIDialect(), AnthropicDialect()], ids=lambda d: d.name),
]

ADMIN = ExecutionContext(
    principal=Principal(name="ada", role="super_admin", permissions=role_defaults("super_admin"))
)


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def registry(
    database: Database, tmp_path: Path, fake_server: FakeServer, dialect: Dialect
) -> ToolRegistry:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=tmp_path / "home",
        egress=EgressSettings(timeout=5, allowed_networks=["127.0.0.1/32"]),
        llm=LLMSettings(max_retries=0),
    )
    with database.session() as session:
        session.add(Company(id="acme", name="Acme"))
    base_url = dialect.spec(fake_server.url).partition("@")[2]
    configs = ConfigurationService(database)
    configs.update_configuration(
        "acme",
        {
            "provider": dialect.name,
            "model": dialect.model,
            "system_prompt": "You are Acme's assistant.",
            "temperature": 0.3,
            "max_tokens": 200,
            "settings": {"base_url": base_url},
        },
        author="setup",
    )
    registry = ToolRegistry(database)
    registry.register(
        PlaygroundConfigurationTool(configs, settings, database), category="configuration"
    )
    return registry


def simulate_params(**extra: object) -> dict[str, object]:
    return {
        "operation": "simulate_conversation",
        "company_id": "acme",
        "messages": ["Where is my parcel?"],
        **extra,
    }


async def test_the_wire_request_carries_the_configurations_prompt_and_settings(
    registry: ToolRegistry, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.text("It ships tomorrow.", usage=(12, 4)))
    result = await registry.execute_tool("configuration", simulate_params(), ADMIN)
    assert result.ok, result.error
    (sent,) = fake_server.requests
    assert sent.path == dialect.path
    assert sent.body["model"] == dialect.model
    assert sent.body["temperature"] == 0.3
    assert "You are Acme's assistant." in str(sent.body)
    trace = result.data["result"]["turns"][0]["trace"]
    assert trace["response"]["text"] == "It ships tomorrow."
    assert (trace["input_tokens"], trace["output_tokens"]) == (12, 4)
    assert trace["cost_usd"] is not None and trace["cost_usd"] > 0


async def test_a_streamed_reply_arrives_in_pieces_and_the_trace_has_its_usage(
    registry: ToolRegistry, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.stream_text(["It ships ", "tomorrow."], usage=(20, 6)))
    pieces: list[str] = []
    with streaming_to(lambda _turn, text: pieces.append(text)):
        result = await registry.execute_tool("configuration", simulate_params(), ADMIN)
    assert result.ok, result.error
    assert pieces == ["It ships ", "tomorrow."]
    trace = result.data["result"]["turns"][0]["trace"]
    assert trace["response"]["text"] == "It ships tomorrow."
    assert (trace["input_tokens"], trace["output_tokens"]) == (20, 6)


async def test_a_provider_error_is_shown_on_the_turn_not_as_a_crash(
    registry: ToolRegistry, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.error(400, "model overloaded with nonsense"))
    result = await registry.execute_tool("configuration", simulate_params(), ADMIN)
    assert result.ok, result.error
    (turn,) = result.data["result"]["turns"]
    assert turn["reply"] == ""
    assert "model overloaded with nonsense" in turn["error"]
    assert turn["trace"]["response"] is None
