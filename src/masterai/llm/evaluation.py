"""Testing prompts on models: test cases with assertions, suites, side-by-side comparisons.

:func:`optimize_prompt` asks a model to rewrite a system prompt from the failures of a suite
and measures each candidate on the same cases; it changes nothing (applying is a separate,
approved configuration change).

Assertions: ``contains`` / ``not_contains`` (text), ``regex``, ``json_schema`` (the answer must
be JSON valid against a schema) and ``rubric`` (a judge model decides whether the answer
meets a written criterion). Test cases arrive from users and models, so they are parsed with
pydantic and rejected with the offending value and path.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from masterai.llm.base import Model
from masterai.llm.errors import LLMEgressError, LLMError
from masterai.llm.types import Message, ModelRequest

MAX_CASES = 200


class EvaluationInputError(ValueError):
    """Test cases or assertions are malformed; the message names the path and value."""


class AssertionSpec(BaseModel):
    """One check on a model's answer."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["contains", "not_contains", "regex", "json_schema", "rubric"]
    value: str | None = None
    """Text for ``contains`` / ``not_contains``, pattern for ``regex``, criterion for ``rubric``."""
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _complete(self) -> AssertionSpec:
        if self.type == "json_schema":
            if self.json_schema is None:
                raise ValueError("a json_schema assertion needs 'schema' (a JSON Schema object)")
            jsonschema.Draft202012Validator.check_schema(self.json_schema)
        elif not self.value:
            raise ValueError(f"a {self.type} assertion needs 'value'")
        if self.type == "regex":
            re.compile(self.value or "")
        return self


class TestCase(BaseModel):
    """One input and what its answer must satisfy."""

    __test__ = False  # not a pytest test class, despite the name
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1)
    name: str | None = None
    assertions: list[AssertionSpec] = Field(default_factory=list)


def parse_test_cases(raw: Any) -> list[TestCase]:
    """Test cases from JSON-like data (a list of objects, or of plain input strings).

    Raises:
        EvaluationInputError: naming the first bad case, field and value.
    """
    if not isinstance(raw, list) or not raw:
        raise EvaluationInputError(f"test_cases must be a non-empty list, got {raw!r:.200}")
    if len(raw) > MAX_CASES:
        raise EvaluationInputError(f"too many test cases: {len(raw)} (the limit is {MAX_CASES})")
    cases = []
    for index, item in enumerate(raw):
        try:
            cases.append(
                TestCase(input=item) if isinstance(item, str) else TestCase.model_validate(item)
            )
        except (ValidationError, jsonschema.SchemaError, re.error) as error:
            raise EvaluationInputError(f"test_cases[{index}]: {_first_error(error)}") from error
    return cases


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where or 'case'}: {first['msg']} (got {first.get('input')!r:.120})"
    return str(error).splitlines()[0]


@dataclass(frozen=True, kw_only=True)
class Subject:
    """A configuration under test: its model and prompt settings."""

    label: str
    model: Model
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    retrieve: Callable[[str], Awaitable[str]] | None = None
    """Context for a case's input (retrieval-augmented answers), added to the system prompt."""


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    """One test case on one subject."""

    name: str
    input: str
    output: str
    passed: bool
    failures: tuple[str, ...] = ()
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class SuiteResult:
    """Every case on one subject, and the totals."""

    label: str
    model: str
    cases: tuple[CaseResult, ...] = field(default_factory=tuple)

    @property
    def pass_rate(self) -> float:
        """Share of cases whose every assertion held (0..1)."""
        return sum(c.passed for c in self.cases) / len(self.cases) if self.cases else 0.0

    def summary(self) -> dict[str, Any]:
        """Pass rate, median latency, tokens and cost."""
        costs = [c.cost_usd for c in self.cases]
        return {
            "label": self.label,
            "model": self.model,
            "cases": len(self.cases),
            "passed": sum(c.passed for c in self.cases),
            "pass_rate": round(self.pass_rate, 4),
            "median_latency_ms": round(statistics.median(c.latency_ms for c in self.cases), 1)
            if self.cases
            else 0.0,
            "input_tokens": sum(c.input_tokens for c in self.cases),
            "output_tokens": sum(c.output_tokens for c in self.cases),
            "cost_usd": None if None in costs else round(sum(c or 0 for c in costs), 6),
        }

    def to_dict(self) -> dict[str, Any]:
        """Summary plus every case."""
        return {
            **self.summary(),
            "results": [c.__dict__ | {"failures": list(c.failures)} for c in self.cases],
        }


JUDGE_INSTRUCTIONS = (
    "You grade an AI assistant's answer against one criterion. Reply with JSON only: "
    '{"pass": true or false, "reason": "one sentence"}.'
)


async def _judge(judge: Model | None, criterion: str, case: TestCase, output: str) -> str | None:
    if judge is None:
        return f"rubric {criterion!r}: no judge model configured"
    prompt = f"Criterion: {criterion}\n\nUser input:\n{case.input}\n\nAnswer:\n{output}"
    response = await judge.complete(
        ModelRequest(messages=(Message.system(JUDGE_INSTRUCTIONS), Message.user(prompt)))
    )
    match = re.search(r"\{.*\}", response.text, re.DOTALL)
    try:
        verdict = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        verdict = None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("pass"), bool):
        return f"rubric {criterion!r}: the judge gave no verdict ({response.text[:120]!r})"
    return None if verdict["pass"] else f"rubric {criterion!r}: {verdict.get('reason', 'failed')}"


async def check(
    assertion: AssertionSpec, case: TestCase, output: str, judge: Model | None
) -> str | None:
    """Why ``output`` fails ``assertion`` (``None`` when it holds)."""
    value = assertion.value or ""
    folded = (lambda s: s) if assertion.case_sensitive else str.casefold
    if assertion.type == "contains" and folded(value) not in folded(output):
        return f"expected the answer to contain {value!r}"
    if assertion.type == "not_contains" and folded(value) in folded(output):
        return f"expected the answer not to contain {value!r}"
    if assertion.type == "regex":
        flags = 0 if assertion.case_sensitive else re.IGNORECASE
        if re.search(value, output, flags) is None:
            return f"expected the answer to match /{value}/"
    if assertion.type == "json_schema":
        try:
            jsonschema.validate(json.loads(output), assertion.json_schema or {})
        except json.JSONDecodeError as error:
            return f"expected JSON, got invalid JSON ({error.msg})"
        except jsonschema.ValidationError as error:
            return f"JSON does not match the schema: {error.message}"
    if assertion.type == "rubric":
        return await _judge(judge, value, case, output)
    return None


async def run_case(subject: Subject, case: TestCase, index: int, judge: Model | None) -> CaseResult:
    """Run one case on one subject and check its assertions."""
    system = subject.system_prompt
    if subject.retrieve is not None:
        system = "\n\n".join(p for p in (system, await subject.retrieve(case.input)) if p)
    messages = (Message.system(system),) if system else ()
    request = ModelRequest(
        messages=(*messages, Message.user(case.input)),
        temperature=subject.temperature,
        max_tokens=subject.max_tokens,
    )
    name = case.name or f"case {index + 1}"
    started = time.perf_counter()
    try:
        response = await subject.model.complete(request)
    except LLMEgressError:
        raise  # a refused endpoint is not an answer to grade: every case would be refused
    except LLMError as error:
        return CaseResult(name=name, input=case.input, output="", passed=False, error=str(error))
    latency = (time.perf_counter() - started) * 1000
    failures = [
        reason
        for assertion in case.assertions
        if (reason := await check(assertion, case, response.text, judge)) is not None
    ]
    return CaseResult(
        name=name,
        input=case.input,
        output=response.text,
        passed=not failures,
        failures=tuple(failures),
        latency_ms=round(latency, 1),
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cost_usd=response.cost_usd,
    )


async def run_suite(
    subject: Subject, cases: Sequence[TestCase], *, judge: Model | None = None, concurrency: int = 4
) -> SuiteResult:
    """Every case on ``subject``, at most ``concurrency`` at a time, results in case order.

    Raises:
        LLMEgressError: the egress guard refused the model's endpoint.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, case: TestCase) -> CaseResult:
        async with gate:
            return await run_case(subject, case, index, judge)

    outcomes = await asyncio.gather(
        *(one(i, c) for i, c in enumerate(cases)), return_exceptions=True
    )
    results = []
    for outcome in outcomes:  # every case has finished: nothing is left running
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
    return SuiteResult(label=subject.label, model=subject.model.name, cases=tuple(results))


def comparison_matrix(suites: Sequence[SuiteResult]) -> dict[str, Any]:
    """Side by side: one row per case with each subject's pass/fail, plus each summary."""
    rows = []
    for index, first in enumerate(suites[0].cases if suites else ()):
        row: dict[str, Any] = {"case": first.name, "input": first.input}
        for suite in suites:
            result = suite.cases[index]
            row[suite.label] = {
                "passed": result.passed,
                "failures": list(result.failures),
                "error": result.error,
                "latency_ms": result.latency_ms,
                "output": result.output[:500],
            }
        rows.append(row)
    return {"summary": [s.summary() for s in suites], "matrix": rows}


OPTIMIZER_INSTRUCTIONS = (
    "You improve the system prompt of a customer-facing AI assistant. You get the current "
    "prompt and test cases with the assistant's answers and the checks they failed. Write an "
    "improved system prompt that makes the failing checks pass and keeps the passing ones. "
    "Reply with the new system prompt only, without commentary."
)
MAX_ROUNDS = 3


def _describe(assertion: AssertionSpec) -> str:
    if assertion.type == "json_schema":
        return f"json_schema {json.dumps(assertion.json_schema)[:200]}"
    return f"{assertion.type} {assertion.value!r}"


def optimizer_brief(prompt: str | None, cases: Sequence[TestCase], suite: SuiteResult) -> str:
    """What the optimizer model is told: the prompt, each case, its answer and failed checks."""
    lines = [
        f"Current system prompt:\n{prompt or '(none)'}",
        "",
        f"Results: {sum(c.passed for c in suite.cases)}/{len(suite.cases)} cases passed.",
    ]
    for case, result in zip(cases, suite.cases, strict=True):
        checks = ", ".join(_describe(a) for a in case.assertions) or "none"
        lines.append(
            f"- [{'PASS' if result.passed else 'FAIL'}] {result.name}: input {case.input!r:.300}"
            f"; checks: {checks}; answer: {result.output!r:.300}"
        )
        lines.extend(f"    failed: {reason}" for reason in result.failures)
        if result.error:
            lines.append(f"    error: {result.error}")
    return "\n".join(lines)


def _clean_prompt(text: str) -> str:
    """The prompt without surrounding whitespace or a Markdown code fence around it."""
    text = text.strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", text, re.DOTALL)
    return (fenced.group(1) if fenced else text).strip()


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One prompt the optimizer proposed, and how it did."""

    round: int
    prompt: str
    suite: SuiteResult


@dataclass(frozen=True, kw_only=True)
class OptimizationResult:
    """The current prompt's suite, each candidate's, and the best prompt found."""

    current_prompt: str | None
    current: SuiteResult
    candidates: tuple[Candidate, ...]
    optimizer_input_tokens: int = 0
    optimizer_output_tokens: int = 0
    optimizer_cost_usd: float | None = 0.0

    @property
    def best(self) -> Candidate | None:
        """The candidate with the highest pass rate, if it beats the current prompt."""
        top = max(self.candidates, key=lambda c: c.suite.pass_rate, default=None)
        return top if top and top.suite.pass_rate > self.current.pass_rate else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the prompts, summaries, the side-by-side matrix and optimizer spend."""
        best = self.best
        return {
            "current_prompt": self.current_prompt,
            "improved": best is not None,
            "best_prompt": best.prompt if best else None,
            "best_round": best.round if best else None,
            "candidates": [
                {"round": c.round, "prompt": c.prompt, **c.suite.summary()} for c in self.candidates
            ],
            "optimizer": {
                "input_tokens": self.optimizer_input_tokens,
                "output_tokens": self.optimizer_output_tokens,
                "cost_usd": self.optimizer_cost_usd,
            },
            **comparison_matrix([self.current, *(c.suite for c in self.candidates)]),
        }


async def optimize_prompt(
    subject: Subject,
    cases: Sequence[TestCase],
    *,
    optimizer: Model,
    judge: Model | None = None,
    rounds: int = 1,
) -> OptimizationResult:
    """Propose better system prompts for ``subject`` from its failures, measuring each.

    Each round asks ``optimizer`` to rewrite the best prompt so far, given its results, and
    runs the candidate on the same cases. Stops early once every case passes.

    Raises:
        EvaluationInputError: ``rounds`` is not 1..MAX_ROUNDS.
        masterai.llm.LLMError: the optimizer model failed or answered with no prompt.
    """
    if not 1 <= rounds <= MAX_ROUNDS:
        raise EvaluationInputError(f"rounds must be 1 to {MAX_ROUNDS}, got {rounds!r}")
    current = await run_suite(replace(subject, label="current"), cases, judge=judge)
    best_prompt, best = subject.system_prompt, current
    candidates: list[Candidate] = []
    tokens, cost = [0, 0], 0.0
    cost_known = True
    for number in range(1, rounds + 1):
        if best.pass_rate == 1.0:
            break
        brief = optimizer_brief(best_prompt, cases, best)
        response = await optimizer.complete(
            ModelRequest(messages=(Message.system(OPTIMIZER_INSTRUCTIONS), Message.user(brief)))
        )
        tokens[0] += response.usage.input_tokens
        tokens[1] += response.usage.output_tokens
        cost_known = cost_known and response.cost_usd is not None
        cost += response.cost_usd or 0.0
        prompt = _clean_prompt(response.text)
        if not prompt:
            raise LLMError(f"the optimizer model {optimizer.name!r} proposed no prompt")
        trial = replace(subject, label=f"candidate {number}", system_prompt=prompt)
        suite = await run_suite(trial, cases, judge=judge)
        candidates.append(Candidate(round=number, prompt=prompt, suite=suite))
        if suite.pass_rate > best.pass_rate:
            best_prompt, best = prompt, suite
    return OptimizationResult(
        current_prompt=subject.system_prompt,
        current=current,
        candidates=tuple(candidates),
        optimizer_input_tokens=tokens[0],
        optimizer_output_tokens=tokens[1],
        optimizer_cost_usd=round(cost, 6) if cost_known else None,
    )
