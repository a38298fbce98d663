"""Choosing a model from one setting, and the scripted model shipped for tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from llm_wire import FakeServer, OpenAIDialect

from masterai.llm import (
    NO_MODEL_MESSAGE,
    Endpoint,
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
    operator_endpoints,
    parse_model_spec,
    resolve_endpoint,
    scripted_path,
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
    spec = f"ollama:llama3.1@{fake_server.url}"
    model = build_model(settings(model=spec), environ={})
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
    model = build_model(settings(api_key="k", model=f"openai:mystery@{fake_server.url}/v1"))
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
    model = build_model(settings(scripted_dir=tmp_path), f"scripted:{script}")
    first = await model.complete(ModelRequest(messages=(Message.user("x"),)))
    assert dict(first.tool_calls[0].arguments) == {"operation": "get_time"}
    assert (await model.complete(ModelRequest(messages=()))).text == "done"
    script.write_text("{not json")
    with pytest.raises(LLMConfigurationError, match="cannot read model script"):
        build_model(settings(scripted_dir=tmp_path), "scripted:script.json")


def test_dated_snapshots_cost_what_their_family_costs_and_overrides_win() -> None:
    from masterai.llm.pricing import find_price

    prices = Settings(_env_file=None).llm.prices  # type: ignore[call-arg]
    snapshot = find_price("openai", "gpt-4o-mini-2024-07-18", prices)
    assert snapshot == prices["gpt-4o-mini"]
    custom = {**prices, "ollama:llama3.1": ModelPrice(input_per_mtok=1, output_per_mtok=2)}
    assert find_price("ollama", "llama3.1", custom) == custom["ollama:llama3.1"]
    assert find_price("openai", "unknown-model", prices) is None


# --- credentials follow the endpoint; scripts stay in their directory ----------------------


def test_the_configured_models_endpoint_gets_the_settings_key() -> None:
    configured = settings(model="openai:gpt-4o@https://gateway.example/v1", api_key="sk-set")
    endpoint = resolve_endpoint(
        parse_model_spec("openai:other@https://gateway.example/v1/"), configured, {}
    )
    assert endpoint == Endpoint(
        base_url="https://gateway.example/v1/", api_key="sk-set", trusted=True
    )


def test_a_base_url_the_operator_did_not_configure_gets_no_key_and_no_trust() -> None:
    configured = settings(model="openai:gpt-4o-mini", api_key="sk-set")
    spec = parse_model_spec("openai:gpt-4o@http://127.0.0.1:9/v1")
    endpoint = resolve_endpoint(spec, configured, {"OPENAI_API_KEY": "sk-env"})
    assert endpoint == Endpoint(base_url="http://127.0.0.1:9/v1", api_key=None, trusted=False)


def test_the_settings_key_is_not_sent_to_another_provider() -> None:
    configured = settings(model="anthropic:claude-haiku-4-5", api_key="sk-anthropic")
    spec = parse_model_spec("openai:gpt-4o-mini")
    endpoint = resolve_endpoint(spec, configured, {"OPENAI_API_KEY": "sk-openai"})
    assert endpoint.api_key == "sk-openai"
    with pytest.raises(LLMConfigurationError, match="set OPENAI_API_KEY"):
        resolve_endpoint(spec, configured, {})


def test_the_providers_base_url_variable_is_the_operators_endpoint() -> None:
    environ = {"OPENAI_BASE_URL": "http://10.0.0.5:8000/v1", "OPENAI_API_KEY": "sk-env"}
    endpoint = resolve_endpoint(parse_model_spec("openai:gpt-4o-mini"), settings(), environ)
    assert endpoint == Endpoint(base_url="http://10.0.0.5:8000/v1", api_key="sk-env", trusted=True)
    assert operator_endpoints(settings(), environ) == {
        "http://10.0.0.5:8000/v1": "sk-env",
        "https://api.anthropic.com:443": None,
    }


def test_an_ollama_default_is_trusted_only_when_the_operator_configured_ollama() -> None:
    spec = parse_model_spec("ollama:llama3.1")
    assert not resolve_endpoint(spec, settings(), {}).trusted
    assert resolve_endpoint(spec, settings(model="ollama:mistral"), {}).trusted


def test_a_chosen_endpoint_outside_the_principals_domains_is_refused_before_calling() -> None:
    with pytest.raises(LLMConfigurationError, match=re.escape("endpoint '127.0.0.1' of")) as caught:
        build_model(settings(), "ollama:x@http://127.0.0.1:9", allowed_hosts={"example.com"})
    assert "allowed domains (example.com)" in str(caught.value)


def test_a_malformed_allowed_network_is_a_configuration_error() -> None:
    broken = Settings(_env_file=None, egress={"allowed_networks": ["nope"]})  # type: ignore[call-arg, arg-type]
    with pytest.raises(LLMConfigurationError, match="invalid network 'nope'"):
        build_model(broken, "ollama:x@http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("/etc/passwd", "is outside the scripts directory"),
        ("../escape.json", "must not contain '..'"),
        ("sub/../../escape.json", "must not contain '..'"),
        ("link.json", "is outside the scripts directory"),
        (".", "is outside the scripts directory"),
    ],
)
def test_a_script_outside_the_scripts_directory_is_refused(
    tmp_path: Path, name: str, complaint: str
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (tmp_path / "secret.json").write_text("[]")
    (scripts / "link.json").symlink_to(tmp_path / "secret.json")
    with pytest.raises(LLMConfigurationError, match=re.escape(complaint)):
        scripted_path(name, scripts)
    with pytest.raises(LLMConfigurationError, match=re.escape(complaint)):
        build_model(settings(scripted_dir=scripts), f"scripted:{name}")


def test_scripts_are_found_by_name_or_by_a_path_inside_the_directory(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[]")
    assert scripted_path("a.json", tmp_path) == (tmp_path / "a.json").resolve()
    assert scripted_path(str(tmp_path / "a.json"), tmp_path) == (tmp_path / "a.json").resolve()


def test_without_a_scripts_directory_scripted_models_are_unavailable() -> None:
    with pytest.raises(LLMConfigurationError, match="set MASTERAI_LLM__SCRIPTED_DIR"):
        build_model(settings(), "scripted:anything.json")
