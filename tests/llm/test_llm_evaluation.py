"""Prompt evaluation: assertions, suites over a real adapter, comparison matrix."""

from __future__ import annotations

import pytest
from llm_wire import FakeServer, OpenAIDialect
from pydantic import SecretStr

from masterai.llm import ScriptedModel, build_model
from masterai.llm.evaluation import (
    EvaluationInputError,
    Subject,
    comparison_matrix,
    parse_test_cases,
    run_suite,
)
from masterai.settings import LLMSettings, Settings


async def test_a_suite_runs_through_the_openai_adapter_with_prompt_and_costs(
    fake_server: FakeServer,
) -> None:
    dialect = OpenAIDialect()
    fake_server.replies.extend(
        [dialect.text("Bonjour!", usage=(100, 10)), dialect.error(400, "bad input")]
    )
    llm = LLMSettings(model=dialect.spec(fake_server.url), api_key=SecretStr("k"), max_retries=0)
    model = build_model(Settings(_env_file=None, llm=llm))  # type: ignore[call-arg]
    subject = Subject(label="fr", model=model, system_prompt="Answer in French.", temperature=0.1)
    cases = parse_test_cases(
        [
            {
                "input": "hello",
                "assertions": [
                    {"type": "contains", "value": "bonjour"},
                    {"type": "not_contains", "value": "hello"},
                ],
            },
            "second",
        ]
    )
    suite = await run_suite(subject, cases, concurrency=1)
    await model.aclose()
    first, second = suite.cases
    assert first.passed and first.cost_usd == pytest.approx((100 * 0.15 + 10 * 0.6) / 1e6)
    assert not second.passed and "request rejected (400: bad input)" in (second.error or "")
    sent = fake_server.requests[0].body
    assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert sent["temperature"] == 0.1
    assert suite.summary()["pass_rate"] == 0.5


async def test_case_sensitivity_regex_and_missing_judge_are_reported() -> None:
    model = ScriptedModel([ScriptedModel.reply("Order #123 shipped")] * 3)
    cases = parse_test_cases(
        [
            {
                "input": "a",
                "assertions": [{"type": "contains", "value": "ORDER", "case_sensitive": True}],
            },
            {"input": "b", "assertions": [{"type": "regex", "value": r"#\d{3}\b"}]},
            {"input": "c", "assertions": [{"type": "rubric", "value": "Polite"}]},
        ]
    )
    suite = await run_suite(Subject(label="s", model=model), cases)
    assert [c.failures for c in suite.cases] == [
        ("expected the answer to contain 'ORDER'",),
        (),
        ("rubric 'Polite': no judge model configured",),
    ]


async def test_an_unparseable_judge_verdict_fails_the_rubric_with_what_it_said() -> None:
    model = ScriptedModel([ScriptedModel.reply("hi")])
    judge = ScriptedModel([ScriptedModel.reply("I think it's fine")])
    cases = parse_test_cases([{"input": "x", "assertions": [{"type": "rubric", "value": "Nice"}]}])
    suite = await run_suite(Subject(label="s", model=model), cases, judge=judge)
    assert suite.cases[0].failures == (
        "rubric 'Nice': the judge gave no verdict (\"I think it's fine\")",
    )


async def test_comparison_matrix_lines_up_cases_of_each_subject() -> None:
    cases = parse_test_cases([{"input": "x", "assertions": [{"type": "contains", "value": "yes"}]}])
    a = await run_suite(
        Subject(label="A", model=ScriptedModel([ScriptedModel.reply("yes")])), cases
    )
    b = await run_suite(Subject(label="B", model=ScriptedModel([ScriptedModel.reply("no")])), cases)
    matrix = comparison_matrix([a, b])
    assert [(s["label"], s["pass_rate"]) for s in matrix["summary"]] == [("A", 1.0), ("B", 0.0)]
    row = matrix["matrix"][0]
    assert (row["A"]["passed"], row["B"]["passed"]) == (True, False)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("not a list", "test_cases must be a non-empty list"),
        ([{"input": ""}], "test_cases[0]: input"),
        ([{"input": "x", "extra": 1}], "test_cases[0]: extra"),
        (
            [{"input": "x", "assertions": [{"type": "json_schema", "schema": {"type": "nope"}}]}],
            "test_cases[0]",
        ),
        ([{"input": "x", "assertions": [{"type": "contains"}]}], "needs 'value'"),
        (["x"] * 201, "too many test cases: 201"),
    ],
)
def test_malformed_test_cases_name_the_case_and_the_problem(raw: object, complaint: str) -> None:
    with pytest.raises(
        EvaluationInputError, match=complaint.replace("[", r"\[").replace("]", r"\]")
    ):
        parse_test_cases(raw)
