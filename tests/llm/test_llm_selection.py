"""Choosing a model from one setting, and the scripted model shipped for tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_wire import FakeServer, OpenAIDialect

from masterai.llm import (
    NO_MODEL_MESSAGE,
    LLMConfigurationError,
    Message,
    ModelRequest,
    ModelSpec,
    ResponseComplete,
    ScriptedModel,
    ScriptExhaustedError,
    TextDelta,
    build_model,
    configured_model,
    parse_model_spec,
)
from masterai.settings import LLMSettings, ModelPrice, Settings


def settings(**llm: object) -> Settings:
    return Settings(_env_file=None, llm=LLMSettings(**llm))  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("openai:gpt-4o-mini", ModelSpec(provider="openai", model="gpt-4o-mini")),
        (
            "ollama:llama3.1@http://127.0.0.1:11434",
            ModelSpec(provider="ollama", model="llama3.1", base_url="http://127.0.0.1:11434"),
        ),
        ("anthropic:claude-haiku-4-5", ModelSpec(provider="anthropic", model="claude-haiku-4-5")),
    ],
)
def test_model_specs_name_provider_model_and_optional_url(spec: str, expected: ModelSpec) -> None:
    assert parse_model_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("gpt-4o", "expected provider:model"),
        ("gemini:pro", "unknown model provider 'gemini'"),
        ("openai:gpt-4o@ftp://x", "must start with http"),
        ("vllm:qwen", "needs the server's URL"),
        ("openai:", "expected provider:model"),
    ],
)
def test_malformed_model_specs_are_rejected_with_the_fix(spec: str, complaint: str) -> None:
    with pytest.raises(LLMConfigurationError, match=complaint):
        parse_model_spec(spec)


def test_no_model_configured_says_how_to_configure_one() -> None:
    with pytest.raises(LLMConfigurationError) as caught:
        build_model(settings(), environ={})
    assert str(caught.value) == NO_MODEL_MESSAGE
    assert "MASTERAI_MODEL=openai:gpt-4o-mini" in NO_MODEL_MESSAGE


def test_missing_api_key_names_the_variable_to_set() -> None:
    with pytest.raises(LLMConfigurationError, match="set ANTHROPIC_API_KEY"):
        build_model(settings(), "anthropic:claude-haiku-4-5", environ={})


def test_short_and_nested_settings_both_select_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERAI_MODEL", "openai:gpt-4o-mini")
    assert configured_model(Settings(_env_file=None)) == "openai:gpt-4o-mini"  # type: ignore[call-arg]
    monkeypatch.setenv("MASTERAI_LLM__MODEL", "ollama:llama3.1")
    assert configured_model(Settings(_env_file=None)) == "ollama:llama3.1"  # type: ignore[call-arg]


async def test_ollama_is_reached_through_its_openai_compatible_v1_endpoint_for_free(
    fake_server: FakeServer,
) -> None:
    fake_server.replies.append(OpenAIDialect().text("hi", usage=(1000, 1000)))
    model = build_model(settings(), f"ollama:llama3.1@{fake_server.url}", environ={})
    response = await model.complete(ModelRequest(messages=(Message.user("hello"),)))
    await model.aclose()
    assert fake_server.requests[0].path == "/v1/chat/completions"
    assert fake_server.requests[0].body["model"] == "llama3.1"
    assert response.cost_usd == 0
    assert model.name == "ollama:llama3.1"


async def test_unknown_hosted_model_has_no_price_rather_than_a_wrong_one(
    fake_server: FakeServer,
) -> None:
    fake_server.replies.append(OpenAIDialect().text("hi"))
    model = build_model(settings(api_key="k"), f"openai:mystery@{fake_server.url}/v1")
    response = await model.complete(ModelRequest(messages=(Message.user("hello"),)))
    await model.aclose()
    assert response.cost_usd is None


async def test_scripted_model_plays_its_script_and_records_requests() -> None:
    model = ScriptedModel(
        [
            ScriptedModel.call("clock", {"operation": "get_time"}),
            lambda request: ScriptedModel.reply(f"saw {len(request.messages)} messages"),
        ],
        price=ModelPrice(input_per_mtok=1_000_000, output_per_mtok=0),
    )
    first = await model.complete(ModelRequest(messages=(Message.user("time?"),)))
    assert first.tool_calls[0].name == "clock"
    assert first.usage.input_tokens > 0
    assert first.cost_usd == first.usage.input_tokens
    second = await model.complete(ModelRequest(messages=(Message.user("a"), Message.user("b"))))
    assert second.text == "saw 2 messages"
    assert len(model.requests) == 2
    with pytest.raises(ScriptExhaustedError, match="no step left for call 3"):
        await model.complete(ModelRequest(messages=()))


async def test_scripted_model_streams_text_in_chunks() -> None:
    model = ScriptedModel([ScriptedModel.reply("abcdefghij")], chunk_size=4)
    events = [e async for e in model.stream(ModelRequest(messages=(Message.user("x"),)))]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["abcd", "efgh", "ij"]
    assert isinstance(events[-1], ResponseComplete)
    assert events[-1].response.text == "abcdefghij"


async def test_scripted_model_loads_from_a_json_file_named_in_the_spec(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "clock", "arguments": {"operation": "get_time"}}]},
                {"text": "done"},
            ]
        )
    )
    model = build_model(settings(), f"scripted:{script}")
    first = await model.complete(ModelRequest(messages=(Message.user("x"),)))
    assert dict(first.tool_calls[0].arguments) == {"operation": "get_time"}
    assert (await model.complete(ModelRequest(messages=()))).text == "done"
    script.write_text("{not json")
    with pytest.raises(LLMConfigurationError, match="cannot read model script"):
        build_model(settings(), f"scripted:{script}")


def test_dated_snapshots_cost_what_their_family_costs_and_overrides_win() -> None:
    from masterai.llm.pricing import find_price

    prices = Settings(_env_file=None).llm.prices  # type: ignore[call-arg]
    snapshot = find_price("openai", "gpt-4o-mini-2024-07-18", prices)
    assert snapshot == prices["gpt-4o-mini"]
    custom = {**prices, "ollama:llama3.1": ModelPrice(input_per_mtok=1, output_per_mtok=2)}
    assert find_price("ollama", "llama3.1", custom) == custom["ollama:llama3.1"]
    assert find_price("openai", "unknown-model", prices) is None
