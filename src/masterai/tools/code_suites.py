"""The ``code`` tool's test-suite operations: ``generate_test_cases`` and ``run_integration_tests``.

``generate_test_cases`` builds cases from the company's prompt rules and its failed, escalated
and low-rated conversations (and a model's suggestions when one is configured), saved as the
company's next test-suite version (:mod:`masterai.services.scripts.suites`).
``run_integration_tests`` runs a suite against the active configuration with the
``test_configuration`` machinery (:func:`masterai.llm.evaluation.run_suite`) and stores the
report. :class:`~masterai.tools.code_scripts.ScriptingCodeTool` adds these operations.
"""

from __future__ import annotations

import json
from typing import Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolResult,
)
from masterai.llm import LLMEgressError, Message, ModelRequest, configured_model
from masterai.llm.evaluation import EvaluationInputError, parse_test_cases, run_suite
from masterai.services.configs import ConfigurationService
from masterai.services.scripts import TestSuiteService, runnable
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools.adapter import author_of, service_call, tool_result
from masterai.tools.evaluation import CallModels, ModelFactory, suite_line

MODEL_OPERATIONS = frozenset({"run_integration_tests"})
"""The suite operations that call a model (see ``model_operations``)."""


class SuiteOperations:
    """``generate_test_cases`` and ``run_integration_tests`` over a company's test suites.

    Args:
        database: the platform database (suites, reports, configurations).
        settings: the platform settings (the configured model).
        model_factory: builds models in tests (a scripted model); default: the configured ones.
    """

    def __init__(
        self, database: Database, settings: Settings, model_factory: ModelFactory | None = None
    ) -> None:
        self._settings = settings
        self._model_factory = model_factory
        self.suites = TestSuiteService(database)
        self._configs = ConfigurationService(database)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """The two operations, ready to add to the ``code`` tool's."""
        return {
            "generate_test_cases": AIToolOperationDefinition(
                "generate_test_cases",
                self.generate,
                None,
                {"company_id", "count", "sources"},
                {"company_id"},
                "Build test cases from the company's prompt rules and failed, escalated and "
                "low-rated conversations; saved as its next test-suite version",
            ),
            "run_integration_tests": AIToolOperationDefinition(
                "run_integration_tests",
                self.run_tests,
                None,
                {"company_id", "suite", "judge_model"},
                {"company_id"},
                "Run the company's test suite against its active configuration; the report "
                "(each case, difference from the previous run, cost) is stored",
                timeout=600.0,
            ),
        }

    async def generate(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        """``generate_test_cases``: save the company's next test-suite version."""
        args = call.arguments
        sources = list(args.get("sources") or ["configuration", "conversations"])
        extra: list[dict[str, Any]] = []
        note = ""
        if "model" in sources:
            extra, note = await self._model_cases(args["company_id"], ref)
        suite = await service_call(
            self.suites.generate,
            args["company_id"],
            count=args.get("count", 20),
            sources=sources,
            extra=extra,
            author=author_of(ref),
        )
        by_source: dict[str, int] = {}
        for case in suite["test_cases"]:
            by_source[case.get("source", "?")] = by_source.get(case.get("source", "?"), 0) + 1
        counts = ", ".join(f"{n} from {s}" for s, n in sorted(by_source.items()))
        text = (
            f"Saved test suite v{suite['version']} of {suite['company_id']!r}: "
            f"{len(suite['test_cases'])} cases ({counts}).{note}"
        )
        return tool_result(call, text, suite)

    async def _model_cases(self, company_id: str, ref: Any) -> tuple[list[dict[str, Any]], str]:
        spec = configured_model(self._settings)
        if spec is None and self._model_factory is None:
            return [], " No model is configured: the 'model' source added nothing."
        config = await service_call(self._configs.get_configuration, company_id)
        models = CallModels.for_call(self._settings, self._model_factory, ref)
        model = models.get(spec or "default")
        request = ModelRequest(
            messages=(
                Message.system(
                    "You write test inputs for a customer-service assistant. Answer with a JSON "
                    "array of at most 5 short customer messages that probe the rules of this "
                    "system prompt, nothing else."
                ),
                Message.user(config.system_prompt or ""),
            ),
            temperature=0.0,
        )
        try:
            response = await model.complete(request)
        finally:
            await model.aclose()
        try:
            inputs = json.loads(response.text)
        except json.JSONDecodeError:
            return [], " The model's answer was not a JSON array: it added nothing."
        cases = [
            {
                "name": f"model:{i + 1}",
                "input": text,
                "assertions": [{"type": "regex", "value": r"\S"}],
                "source": "model",
                "reason": "suggested by the model from the prompt",
            }
            for i, text in enumerate(inputs if isinstance(inputs, list) else [])
            if isinstance(text, str) and text.strip()
        ][:5]
        return cases, ""

    async def run_tests(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        """``run_integration_tests``: run a suite and store its report."""
        args = call.arguments
        company = args["company_id"]
        suite = await service_call(self.suites.suite, company, args.get("suite"))
        try:
            cases = parse_test_cases(runnable(suite["test_cases"]))
        except EvaluationInputError as e:
            raise AIToolExecutionError(f"suite v{suite['version']}: {e}") from e
        config = await service_call(self._configs.get_configuration, company)
        models = CallModels.for_call(self._settings, self._model_factory, ref)
        subject, judge = models.for_config(config), models.judge(args)
        try:
            outcome = await run_suite(subject, cases, judge=judge)
        except LLMEgressError as e:
            raise AIToolExecutionError(f"run_integration_tests: {e}") from e
        finally:
            await subject.model.aclose()
            if judge is not None:
                await judge.aclose()
        spent = sum(c.cost_usd or 0.0 for c in outcome.cases)
        report = await service_call(
            self.suites.save_report,
            company,
            suite_version=suite["version"],
            config_version=config.version,
            results=[
                {"name": c.name, "passed": c.passed, "failures": list(c.failures)}
                for c in outcome.cases
            ],
            cost_usd=spent,
            run_by=author_of(ref),
        )
        diff = report["diff"]
        change = ""
        if diff.get("previous"):
            change = (
                f" Newly failing: {len(diff['newly_failing'])}, newly passing: "
                f"{len(diff['newly_passing'])}."
            )
        text = f"Report {report['id']}: " + suite_line(outcome) + "." + change
        return tool_result(call, text, report, cost_usd=spent)
