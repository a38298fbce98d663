"""One contract suite run over every SDK adapter against a loopback server of its wire format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from llm_wire import Dialect, FakeServer, OpenAIDialect, Reply
from pydantic import SecretStr

from masterai.llm import (
    LLMAuthenticationError,
    LLMEgressError,
    LLMModelNotFoundError,
    LLMQuotaError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
    Message,
    Model,
    ModelRequest,
    ResponseComplete,
    TextDelta,
    ToolCall,
    ToolSpec,
    build_model,
)
from masterai.settings import EgressSettings, LLMSettings, Settings

CLOCK = ToolSpec(
    name="clock",
    description="Tells the time.",
    input_schema={
        "type": "object",
        "properties": {"operation": {"type": "string", "enum": ["get_time"]}},
        "required": ["operation"],
        "additionalProperties": False,
    },
)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def model(
    fake_server: FakeServer, dialect: Dialect, sleeps: SleepRecorder
) -> AsyncIterator[Model]:
    # The operator configured this endpoint (MASTERAI_MODEL), so it gets the key.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm=LLMSettings(
            model=dialect.spec(fake_server.url),
            api_key=SecretStr("sk-test"),
            max_retries=2,
            retry_base_delay=0.01,
            timeout=2,
        ),
    )
    built = build_model(settings, sleep=sleeps)
    yield built
    await built.aclose()


def ask(text: str = "What time is it?", tools: tuple[ToolSpec, ...] = ()) -> ModelRequest:
    return ModelRequest(
        messages=(Message.system("You are terse."), Message.user(text)), tools=tools
    )


async def collect(model: Model, request: ModelRequest) -> tuple[list[str], Any]:
    deltas: list[str] = []
    final = None
    async for event in model.stream(request):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        elif isinstance(event, ResponseComplete):
            final = event.response
    return deltas, final


async def test_text_answer_reports_usage_and_cost_from_the_price_table(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.text("It is noon.", usage=(1_000_000, 1_000_000)))
    response = await model.complete(ask())
    assert response.text == "It is noon."
    assert response.tool_calls == ()
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1_000_000, 1_000_000)
    assert response.cost_usd == pytest.approx(sum(dialect.price))
    assert response.model == f"{dialect.name}:{dialect.model}"
    sent = fake_server.requests[0]
    assert sent.path == dialect.path
    assert "sk-test" in (sent.headers.get("authorization", "") + sent.headers.get("x-api-key", ""))
    assert sent.body["model"] == dialect.model
    assert "You are terse." in json.dumps(sent.body)


async def test_tool_schema_is_sent_and_the_tool_call_comes_back_parsed(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(
        dialect.tool_calls([("call_1", "clock", '{"operation": "get_time"}')])
    )
    response = await model.complete(ask(tools=(CLOCK,)))
    assert response.tool_calls == (
        ToolCall(
            id="call_1",
            name="clock",
            arguments={"operation": "get_time"},
            raw_arguments=response.tool_calls[0].raw_arguments,
        ),
    )
    body = fake_server.requests[0].body
    assert dialect.sent_tool_names(body) == ["clock"]
    assert dialect.sent_tool_schema(body) == CLOCK.input_schema


async def test_parallel_tool_calls_keep_their_order(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(
        dialect.tool_calls(
            [("a", "clock", '{"operation": "get_time"}'), ("b", "clock", '{"operation": "x"}')]
        )
    )
    response = await model.complete(ask(tools=(CLOCK,)))
    assert [(c.id, dict(c.arguments)) for c in response.tool_calls] == [
        ("a", {"operation": "get_time"}),
        ("b", {"operation": "x"}),
    ]


async def test_streamed_text_arrives_in_pieces_then_one_complete_response(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.stream_text(["It ", "is ", "noon", "."], usage=(12, 4)))
    deltas, final = await collect(model, ask())
    assert deltas == ["It ", "is ", "noon", "."]
    assert final.text == "It is noon."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 4)
    assert final.cost_usd == pytest.approx((12 * dialect.price[0] + 4 * dialect.price[1]) / 1e6)


async def test_streamed_parallel_tool_calls_are_reassembled_from_argument_fragments(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    args = '{"operation": "get_time", "timezone": "Europe/Paris"}'
    fake_server.replies.append(
        dialect.stream_tool_calls([("a", "clock", args), ("b", "clock", "{}")])
    )
    deltas, final = await collect(model, ask(tools=(CLOCK,)))
    assert deltas == []
    assert [(c.id, c.name, dict(c.arguments)) for c in final.tool_calls] == [
        ("a", "clock", {"operation": "get_time", "timezone": "Europe/Paris"}),
        ("b", "clock", {}),
    ]


async def test_malformed_tool_arguments_are_flagged_not_raised(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.stream_tool_calls([("a", "clock", '{"operation": "get_')]))
    _, final = await collect(model, ask(tools=(CLOCK,)))
    (call,) = final.tool_calls
    assert call.arguments == {}
    assert call.raw_arguments == '{"operation": "get_'
    assert call.arguments_error is not None and "not valid JSON" in call.arguments_error


async def test_rate_limit_is_retried_after_backoff_then_succeeds(
    model: Model, fake_server: FakeServer, dialect: Dialect, sleeps: SleepRecorder
) -> None:
    fake_server.replies.extend(
        [dialect.error(429, "slow down", headers={"retry-after": "0.25"}), dialect.text("ok")]
    )
    response = await model.complete(ask())
    assert response.text == "ok"
    assert len(fake_server.requests) == 2
    assert sleeps.delays == [0.25]  # the provider's Retry-After wins over our backoff


async def test_stream_is_retried_when_the_server_fails_before_the_first_event(
    model: Model, fake_server: FakeServer, dialect: Dialect, sleeps: SleepRecorder
) -> None:
    fake_server.replies.extend([dialect.error(503, "overloaded"), dialect.stream_text(["ok"])])
    deltas, final = await collect(model, ask())
    assert (deltas, final.text) == (["ok"], "ok")
    assert len(sleeps.delays) == 1 and 0 < sleeps.delays[0] <= 0.01


async def test_persistent_server_errors_give_up_after_max_retries(
    model: Model, fake_server: FakeServer, dialect: Dialect, sleeps: SleepRecorder
) -> None:
    fake_server.replies.extend([dialect.error(500, "boom")] * 3)
    with pytest.raises(LLMServerError, match="boom") as caught:
        await model.complete(ask())
    assert caught.value.status_code == 500
    assert len(fake_server.requests) == 3  # first try + max_retries=2
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, LLMAuthenticationError), (404, LLMModelNotFoundError)],
)
async def test_auth_and_unknown_model_errors_are_translated_and_not_retried(
    model: Model, fake_server: FakeServer, dialect: Dialect, status: int, error_type: type
) -> None:
    fake_server.replies.append(dialect.error(status, "nope"))
    with pytest.raises(error_type) as caught:
        await model.complete(ask())
    assert dialect.model in str(caught.value)
    assert len(fake_server.requests) == 1


async def test_exhausted_quota_is_reported_as_quota_and_not_retried(
    fake_server: FakeServer, sleeps: SleepRecorder
) -> None:
    dialect = OpenAIDialect()
    llm = LLMSettings(model=dialect.spec(fake_server.url), api_key=SecretStr("k"))
    model = build_model(Settings(_env_file=None, llm=llm), sleep=sleeps)  # type: ignore[call-arg]
    fake_server.replies.append(dialect.error(429, "You exceeded your quota", "insufficient_quota"))
    with pytest.raises(LLMQuotaError, match="quota"):
        await model.complete(ask())
    assert not isinstance(LLMQuotaError("x"), LLMRateLimitError)
    assert len(fake_server.requests) == 1
    await model.aclose()


async def test_a_hanging_provider_times_out_with_a_readable_error(
    fake_server: FakeServer, dialect: Dialect
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm=LLMSettings(
            model=dialect.spec(fake_server.url), api_key=SecretStr("k"), timeout=0.3, max_retries=0
        ),
    )
    model = build_model(settings)
    fake_server.replies.append(Reply(hang=True))
    with pytest.raises(LLMTimeoutError, match="within the timeout"):
        await model.complete(ask())
    await model.aclose()


async def test_tool_results_travel_back_in_the_providers_format(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    fake_server.replies.append(dialect.text("Noon."))
    call = ToolCall(id="call_9", name="clock", arguments={"operation": "get_time"})
    request = ModelRequest(
        messages=(
            Message.user("time?"),
            Message.assistant("", (call,)),
            Message.tool("call_9", "12:00", is_error=False),
        ),
        tools=(CLOCK,),
    )
    await model.complete(request)
    messages = fake_server.requests[0].body["messages"]
    if dialect.name == "openai":
        assert messages[1]["tool_calls"][0]["id"] == "call_9"
        assert messages[2] == {"role": "tool", "tool_call_id": "call_9", "content": "12:00"}
    else:
        assert messages[1]["content"][0]["type"] == "tool_use"
        assert messages[2]["role"] == "user"
        assert messages[2]["content"][0]["tool_use_id"] == "call_9"
        assert messages[2]["content"][0]["content"] == "12:00"


async def test_framework_exported_tool_schemas_reach_the_provider_unchanged(
    model: Model, fake_server: FakeServer, dialect: Dialect
) -> None:
    from ai_tool.clock import ClockAITool
    from ai_tool.schema import tool_json_schema
    from masterai.llm import tool_spec

    clock = ClockAITool()
    spec = tool_spec(clock, operations=["get_time"])
    fake_server.replies.append(
        dialect.tool_calls([("c1", "clock", '{"operation": "get_time", "timezone": "UTC"}')])
    )
    response = await model.complete(ask(tools=(spec,)))
    sent = dialect.sent_tool_schema(fake_server.requests[0].body)
    assert sent == tool_json_schema(clock, operations=["get_time"], mode="flat")
    assert sent["properties"]["operation"]["enum"] == ["get_time"]
    (call,) = response.tool_calls
    assert clock.validate_arguments(dict(call.arguments)) is not None


# --- every adapter's HTTP goes through the egress guard ------------------------------------


async def test_a_refused_endpoint_is_an_egress_error_and_is_not_retried(
    fake_server: FakeServer, dialect: Dialect, sleeps: SleepRecorder
) -> None:
    # Chosen in a call (not the operator's endpoint) and on loopback, which is not allowed.
    settings = Settings(_env_file=None, llm=LLMSettings(max_retries=3))  # type: ignore[call-arg]
    model = build_model(settings, dialect.spec(fake_server.url), environ={}, sleep=sleeps)
    with pytest.raises(LLMEgressError, match="which is loopback"):
        await model.complete(ask())
    with pytest.raises(LLMEgressError, match="which is loopback"):
        await collect(model, ask())
    await model.aclose()
    assert sleeps.delays == []
    assert fake_server.requests == []


async def test_a_chosen_endpoint_in_an_allowed_network_is_called_without_the_operators_key(
    fake_server: FakeServer, dialect: Dialect
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm=LLMSettings(api_key=SecretStr("sk-settings"), model="openai:gpt-4o-mini"),
        egress=EgressSettings(allowed_networks=["127.0.0.1/32"]),
    )
    environ = {"OPENAI_API_KEY": "sk-env", "ANTHROPIC_API_KEY": "sk-env"}
    model = build_model(settings, dialect.spec(fake_server.url), environ=environ)
    fake_server.replies.append(dialect.text("hi"))
    assert (await model.complete(ask())).text == "hi"
    await model.aclose()
    headers = fake_server.requests[0].headers
    assert "authorization" not in headers and "x-api-key" not in headers
    assert "sk-" not in json.dumps(headers)


async def test_an_answer_over_the_egress_size_limit_is_cut(
    fake_server: FakeServer, dialect: Dialect
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        llm=LLMSettings(model=dialect.spec(fake_server.url), api_key=SecretStr("k")),
        egress=EgressSettings(max_response_bytes=1000),
    )
    model = build_model(settings)
    fake_server.replies.append(dialect.text("x" * 2000))
    with pytest.raises(LLMEgressError, match="larger than 1000 bytes"):
        await model.complete(ask())
    await model.aclose()
