"""Model evaluation on a test set: pass rate per assertion type, latency, tokens and cost.

A test set is cases given in the call or a dataset's validation split (each example's last
assistant message is the expected answer). Results are stored per (model, test set, test
set version), so a fine-tuned model and its base appear side by side in one table. Answers
come from :func:`masterai.llm.evaluation.run_suite`; checks reuse its
:func:`~masterai.llm.evaluation.check`, plus ``exact`` and ``json_valid``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from masterai.llm.base import Model
from masterai.llm.evaluation import AssertionSpec, CaseResult, Subject, TestCase, check, run_suite
from masterai.services.errors import InvalidInputError, NotFoundError
from masterai.store import Database
from masterai.store.models.aidev import ModelEvaluation
from masterai.store.models.scripts import TestSuite

MAX_CASES = 200
EXPECTED_METRICS = ("exact", "contains", "rubric")
"""Checks derived from a case's ``expected`` answer (``metrics``)."""


class Assertion(BaseModel):
    """One check: the evaluation types plus ``exact`` and ``json_valid``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal[
        "exact", "contains", "not_contains", "regex", "json_valid", "json_schema", "rubric"
    ]
    value: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class EvalCase(BaseModel):
    """One input, an optional system prompt and expected answer, and checks."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1)
    system: str | None = None
    expected: str | None = None
    assertions: list[Assertion] = Field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class TestSet:
    """Cases with the name and version their results are stored under."""

    __test__ = False
    name: str
    version: str
    cases: tuple[EvalCase, ...]


def _version(cases: Sequence[EvalCase]) -> str:
    body = json.dumps([c.model_dump(mode="json") for c in cases], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def parse_cases(raw: Any, where: str = "test_set.cases") -> list[EvalCase]:
    """Cases from JSON-like data; raises :class:`InvalidInputError` naming the first bad one."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"{where} must be a non-empty list, got {raw!r:.120}")
    if len(raw) > MAX_CASES:
        raise InvalidInputError(f"{where}: {len(raw)} cases (the limit is {MAX_CASES})")
    cases = []
    for index, item in enumerate(raw):
        try:
            cases.append(
                EvalCase(input=item) if isinstance(item, str) else EvalCase.model_validate(item)
            )
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidInputError(
                f"{where}[{index}].{field}: {first['msg']} (got {first.get('input')!r:.80})"
            ) from error
    return cases


def given_test_set(raw: Mapping[str, Any]) -> TestSet:
    """A test set of cases given in the call (``{cases, name?}``)."""
    cases = parse_cases(raw.get("cases"))
    name = raw.get("name") or "inline"
    return TestSet(name=str(name), version=_version(cases), cases=tuple(cases))


def dataset_test_set(path: str, lines: Sequence[Mapping[str, Any]]) -> TestSet:
    """A test set from dataset lines (OpenAI chat format): last user turn -> last answer."""
    cases = []
    for number, line in enumerate(lines, start=1):
        messages = line.get("messages") or line.get("input", {}).get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidInputError(f"{path} line {number} has no messages")
        system = next((m["content"] for m in messages if m.get("role") == "system"), None)
        users = [m for m in messages if m.get("role") == "user"]
        answers = [m for m in messages if m.get("role") == "assistant"]
        if not users:
            continue
        expected = answers[-1]["content"] if answers else None
        cases.append(EvalCase(input=users[-1]["content"], system=system, expected=expected))
    if not cases:
        raise InvalidInputError(f"{path} holds no example with a user message")
    return TestSet(name=path, version=_version(cases), cases=tuple(cases[:MAX_CASES]))


def _checks(case: EvalCase, metrics: Sequence[str]) -> list[Assertion]:
    checks = list(case.assertions)
    if case.expected is not None:
        checks += [Assertion(type=m, value=case.expected) for m in metrics]  # type: ignore[arg-type]
    return checks


async def _holds(assertion: Assertion, case: EvalCase, output: str, judge: Model | None) -> bool:
    if assertion.type == "exact":
        return output.strip() == (assertion.value or "").strip()
    if assertion.type == "json_valid":
        try:
            json.loads(output)
        except json.JSONDecodeError:
            return False
        return True
    value = assertion.value
    if assertion.type == "rubric" and case.expected is not None and value == case.expected:
        value = f"The answer conveys the same as this reference answer: {case.expected}"
    spec = AssertionSpec.model_validate(
        {"type": assertion.type, "value": value, "schema": assertion.json_schema}
    )
    return await check(spec, TestCase(input=case.input), output, judge) is None


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def answer_all(model: Model, cases: Sequence[EvalCase]) -> list[CaseResult]:
    """Every case's answer, in order (cases grouped by system prompt, one suite each)."""
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        groups[case.system].append(index)
    results: dict[int, CaseResult] = {}
    for system, indexes in groups.items():
        subject = Subject(label=model.name, model=model, system_prompt=system, temperature=0.0)
        suite = await run_suite(subject, [TestCase(input=cases[i].input) for i in indexes])
        results.update(zip(indexes, suite.cases, strict=True))
    return [results[i] for i in range(len(cases))]


async def evaluate(
    model: Model, test_set: TestSet, *, metrics: Sequence[str], judge: Model | None
) -> dict[str, Any]:
    """The metrics of ``model`` on ``test_set``."""
    answers = await answer_all(model, test_set.cases)
    by_type: dict[str, list[bool]] = defaultdict(list)
    passed = 0
    rows = []
    for case, result in zip(test_set.cases, answers, strict=True):
        outcomes: dict[str, bool] = {}
        for assertion in _checks(case, metrics):
            ok = result.error is None and await _holds(assertion, case, result.output, judge)
            by_type[assertion.type].append(ok)
            outcomes[assertion.type] = outcomes.get(assertion.type, True) and ok
        case_ok = result.error is None and all(outcomes.values())
        passed += case_ok
        rows.append(
            {
                "input": case.input,
                "output": result.output[:500],
                "passed": case_ok,
                "checks": outcomes,
                "error": result.error,
            }
        )
    latencies = [r.latency_ms for r in answers if r.error is None]
    costs = [r.cost_usd for r in answers]
    return {
        "model": model.name,
        "test_set": test_set.name,
        "test_set_version": test_set.version,
        "cases": len(answers),
        "pass_rate": round(passed / len(answers), 4),
        "pass_rate_by_type": {t: round(sum(v) / len(v), 4) for t, v in sorted(by_type.items())},
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)},
        "input_tokens": sum(r.input_tokens for r in answers),
        "output_tokens": sum(r.output_tokens for r in answers),
        "cost_usd": None if None in costs else round(sum(c or 0.0 for c in costs), 6),
        "errors": sum(r.error is not None for r in answers),
        "results": rows,
    }


class ModelEvaluationService:
    """Stores evaluations per (model, test set version) and compares models on one test set."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def suite_test_set(self, company_id: str, version: int | None = None) -> TestSet:
        """A company's stored test suite (``tests generate``), its newest version by default.

        Raises:
            NotFoundError: the company has no such suite.
        """
        query = select(TestSuite).where(TestSuite.company_id == company_id)
        if version is not None:
            query = query.where(TestSuite.version == version)
        with self._database.session() as session:
            suite = session.scalars(query.order_by(TestSuite.version.desc())).first()
            if suite is None:
                which = f"version {version}" if version is not None else "any version"
                raise NotFoundError(f"{company_id!r} has no stored test suite ({which})")
            # The suite's cases are test_configuration cases: keep what a check needs.
            raw = [
                {
                    "input": c.get("input"),
                    "assertions": [
                        {k: a[k] for k in ("type", "value", "schema") if k in a}
                        for a in c.get("assertions", [])
                    ],
                }
                for c in suite.cases
            ]
            cases = parse_cases(raw, where=f"suite {company_id} v{suite.version}")
            return TestSet(
                name=f"suite:{company_id}", version=f"v{suite.version}", cases=tuple(cases)
            )

    def store(self, metrics: Mapping[str, Any], *, created_by: str | None) -> None:
        """Keep ``metrics`` (replacing an earlier run of the same model and test set version)."""
        summary = {k: v for k, v in metrics.items() if k != "results"}
        with self._database.session(immediate=True) as session:
            row = session.scalars(
                select(ModelEvaluation).where(
                    ModelEvaluation.model == metrics["model"],
                    ModelEvaluation.test_set == metrics["test_set"],
                    ModelEvaluation.test_set_version == metrics["test_set_version"],
                )
            ).first()
            if row is None:
                row = ModelEvaluation(
                    model=metrics["model"],
                    test_set=metrics["test_set"],
                    test_set_version=metrics["test_set_version"],
                )
                session.add(row)
            row.metrics = summary
            row.created_by = created_by

    def listing(
        self, *, test_set: str | None = None, model: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored evaluations, grouped per test set version (newest group first).

        Each group is ``{test_set, test_set_version, company_id, rows}``; its rows (one per
        model, best pass rate first) are what :meth:`comparison` returns plus ``created_at``
        and ``cases``. ``model`` keeps the groups in which that model was evaluated.
        """
        query = select(ModelEvaluation).order_by(ModelEvaluation.created_at.desc())
        if test_set is not None:
            query = query.where(ModelEvaluation.test_set == test_set)
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        with self._database.session() as session:
            for r in session.scalars(query):
                key = (r.test_set, r.test_set_version)
                group = groups.setdefault(
                    key,
                    {
                        "test_set": r.test_set,
                        "test_set_version": r.test_set_version,
                        "company_id": company_of_test_set(r.test_set),
                        "rows": [],
                    },
                )
                group["rows"].append(
                    {
                        **_row(r),
                        "cases": r.metrics.get("cases"),
                        "created_at": r.created_at.isoformat(timespec="seconds"),
                    }
                )
        listed = [
            g
            for g in groups.values()
            if model is None or any(row["model"] == model for row in g["rows"])
        ]
        for group in listed:
            group["rows"].sort(key=lambda r: (-(r["pass_rate"] or 0), r["model"]))
        return listed

    def comparison(self, test_set: str, version: str) -> list[dict[str, Any]]:
        """One row per model evaluated on this test set version, best pass rate first."""
        with self._database.session() as session:
            rows = session.scalars(
                select(ModelEvaluation).where(
                    ModelEvaluation.test_set == test_set,
                    ModelEvaluation.test_set_version == version,
                )
            ).all()
            table = [_row(r) for r in rows]
        return sorted(table, key=lambda r: (-(r["pass_rate"] or 0), r["model"]))


def _row(r: ModelEvaluation) -> dict[str, Any]:
    return {
        "model": r.model,
        "pass_rate": r.metrics.get("pass_rate"),
        "pass_rate_by_type": r.metrics.get("pass_rate_by_type"),
        "latency_ms": r.metrics.get("latency_ms"),
        "input_tokens": r.metrics.get("input_tokens"),
        "output_tokens": r.metrics.get("output_tokens"),
        "cost_usd": r.metrics.get("cost_usd"),
    }


def company_of_test_set(name: str) -> str | None:
    """The company a stored test set's name belongs to, if any.

    Names are made here: ``suite:<company>`` for a stored suite, the dataset's workspace
    path (``companies/<company>/...``) for a validation split; given cases have none.
    """
    if name.startswith("suite:"):
        return name.removeprefix("suite:") or None
    parts = name.split("/")
    if len(parts) > 2 and parts[0] == "companies":
        return parts[1] or None
    return None
