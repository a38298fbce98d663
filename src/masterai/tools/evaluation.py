"""Operations that need a language model, added to the ``configuration`` and ``analytics`` tools.

``configuration``: ``test_configuration`` (a company's configuration — its model, prompt,
temperature — on test cases with assertions), ``compare_configurations`` (the same cases on
two configurations, side by side) and ``optimize_prompt`` (a model rewrites the prompt from
the failures; each candidate is measured; nothing is applied). ``analytics``:
``benchmark_models`` (one test suite across several models). The logic is
:mod:`masterai.llm.evaluation`; these subclasses only add the operations, so the tools keep
their names, categories and every other operation.
All four are read-only (they change no data) but do call models, which costs money: they are
listed in ``model_operations`` (see :func:`masterai.tools.adapter.calls_model`), so the agent
always asks before running them, and the policy lets only principals with
``model_calls.enabled`` run them.

Models are built per call for the calling principal: a ``@base_url`` the operator did not
configure (in an argument, or in a stored configuration's ``settings.base_url``) must be one
of the principal's allowed domains, gets no operator credential, and goes through the egress
guard (see :func:`masterai.llm.build_model`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.llm import LLMConfigurationError, LLMEgressError, LLMError, Model, build_model
from masterai.llm.evaluation import (
    MAX_ROUNDS,
    EvaluationInputError,
    OptimizationResult,
    Subject,
    SuiteResult,
    comparison_matrix,
    optimize_prompt,
    parse_test_cases,
    run_suite,
)
from masterai.security import ParameterRole, Principal
from masterai.services.analytics import AnalyticsService
from masterai.services.configs import ConfigurationService, ConfigVersion
from masterai.services.errors import ServiceError
from masterai.services.rag import RagService, build_embedder, context_setting
from masterai.settings import Settings
from masterai.tools.adapter import call_service, tool_result
from masterai.tools.analytics import AnalyticsTool
from masterai.tools.configuration import ConfigurationTool

ModelFactory = Callable[[str], Model]
MAX_MODELS = 8
TIMEOUT = 600.0

_TEST_CASES = AIToolParameter(
    "test_cases",
    "array",
    "Test cases: strings, or objects {input, name?, assertions?: [{type: contains|not_contains|"
    "regex|json_schema|rubric, value?, schema?, case_sensitive?}]}",
    required=False,
)
_EXTRA_CONFIGURATION = [
    _TEST_CASES,
    AIToolParameter(
        "versions",
        "array",
        "Two versions of company_id to compare",
        required=False,
        items=AIToolParameter("version", "integer", "Version"),
    ),
    AIToolParameter(
        "judge_model",
        "string",
        "provider:model judging rubric assertions",
        required=False,
        role=ParameterRole.MODEL,
    ),
    AIToolParameter(
        "optimizer_model",
        "string",
        "provider:model rewriting the prompt (default: the configuration's own model)",
        required=False,
        role=ParameterRole.MODEL,
    ),
    AIToolParameter(
        "rounds", "integer", f"Rewrite rounds, 1 to {MAX_ROUNDS} (default 1)", required=False
    ),
]
_EXTRA_ANALYTICS = [
    _TEST_CASES,
    AIToolParameter(
        "models",
        "array",
        "Models to benchmark, as provider:model[@base_url]",
        required=False,
        items=AIToolParameter("model", "string", "Model spec"),
        role=ParameterRole.MODEL,
    ),
    AIToolParameter("system_prompt", "string", "System prompt for every model", required=False),
    AIToolParameter(
        "judge_model",
        "string",
        "provider:model judging rubric assertions",
        required=False,
        role=ParameterRole.MODEL,
    ),
]


def with_parameters(definition: AIToolDefinition, extra: list[AIToolParameter]) -> AIToolDefinition:
    """``definition`` with those parameters of ``extra`` it lacks appended."""
    known = {p.name for p in definition.parameters}
    definition.parameters = [*definition.parameters, *(p for p in extra if p.name not in known)]
    return definition


class CallModels:
    """The models one tool call uses, built from specs; configuration errors become tool errors.

    Shared by the tools that call models for their caller (evaluation, scripts, playground).
    """

    def __init__(self, build: ModelFactory) -> None:
        self._build = build

    @classmethod
    def for_call(
        cls, settings: Settings, factory: ModelFactory | None, requester_ref: Any
    ) -> CallModels:
        """The models of one call: ``factory`` if given, else built for the calling principal."""
        if factory is not None:
            return cls(factory)
        domains = _allowed_domains(requester_ref)
        return cls(lambda spec: build_model(settings, spec, allowed_hosts=domains))

    def get(self, spec: str) -> Model:
        """The model ``spec`` names (``provider:model[@base_url]``)."""
        try:
            return self._build(spec)
        except LLMConfigurationError as error:
            raise AIToolExecutionError(str(error)) from error

    def judge(self, arguments: dict[str, Any]) -> Model | None:
        """The judge model the arguments name (``judge_model``), if any."""
        spec = arguments.get("judge_model")
        return self.get(spec) if spec else None

    @staticmethod
    def spec_of(config: ConfigVersion) -> str:
        """The model spec of a configuration version (refused if it names no model)."""
        if not config.provider or not config.model:
            raise AIToolExecutionError(
                f"{config.company_id} v{config.version} names no provider/model to test"
            )
        base_url = config.settings.get("base_url")
        return f"{config.provider}:{config.model}" + (f"@{base_url}" if base_url else "")

    def for_config(self, config: ConfigVersion) -> Subject:
        """A configuration version as an evaluation subject (its model and settings)."""
        return Subject(
            label=f"{config.company_id} v{config.version}",
            model=self.get(self.spec_of(config)),
            system_prompt=config.system_prompt,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
        )


def _allowed_domains(requester_ref: Any) -> frozenset[str]:
    """The domains a model endpoint chosen by the caller may be on (none for a non-principal)."""
    if isinstance(requester_ref, Principal):
        return requester_ref.permissions.integrations.allowed_domains
    return frozenset()


def _cases(arguments: dict[str, Any]) -> Any:
    try:
        return parse_test_cases(arguments.get("test_cases"))
    except EvaluationInputError as error:
        raise AIToolExecutionError(str(error)) from error


def suite_line(suite: SuiteResult) -> str:
    """One line summing up a suite: passed cases, median latency, tokens, cost."""
    s = suite.summary()
    cost = "unknown cost" if s["cost_usd"] is None else f"${s['cost_usd']:.4f}"
    return (
        f"{s['label']} ({s['model']}): {s['passed']}/{s['cases']} passed, median "
        f"{s['median_latency_ms']} ms, {s['input_tokens']}+{s['output_tokens']} tokens, {cost}"
    )


def _spent(*suites: SuiteResult) -> float:
    """What the suites' model calls cost, at known prices (judge calls are not priced)."""
    return sum(c.cost_usd or 0.0 for suite in suites for c in suite.cases)


async def _close(*models: Model | None) -> None:
    for model in models:
        if model is not None:
            await model.aclose()


class EvaluatingConfigurationTool(ConfigurationTool):
    """The ``configuration`` tool plus its model-calling operations.

    ``test_configuration``, ``compare_configurations`` and ``optimize_prompt``.
    """

    model_operations: ClassVar[frozenset[str]] = frozenset(
        {"test_configuration", "compare_configurations", "optimize_prompt"}
    )

    def __init__(
        self,
        service: ConfigurationService,
        settings: Settings,
        *,
        model_factory: ModelFactory | None = None,
        rag: RagService | None = None,
    ) -> None:
        super().__init__(service)
        self._config_service = service
        self._settings = settings
        self._model_factory = model_factory
        self._rag = rag

    @contextlib.asynccontextmanager
    async def _grounded(self, subject: Subject, config: ConfigVersion) -> AsyncIterator[Subject]:
        """``subject`` answering from the company's collection when ``settings.rag`` asks.

        Each case's input is searched in the configuration's own company (its collection
        named by ``settings.rag``) and the passages join the system prompt.
        """
        try:
            wanted = context_setting(config.settings.get("rag"))
        except ServiceError as error:
            raise AIToolExecutionError(f"{config.company_id} v{config.version}: {error}") from error
        if wanted is None or self._rag is None:
            yield subject
            return
        try:
            embedder = build_embedder(self._settings)
        except ServiceError as error:
            raise AIToolExecutionError(f"settings.rag: {error}") from error
        rag, company = self._rag, config.company_id

        async def retrieve(question: str) -> str:
            found = await rag.context(
                company,
                question,
                collection=wanted.collection,
                top_k=wanted.top_k,
                embedder=embedder,
            )
            return found.text

        try:
            yield replace(subject, retrieve=retrieve)
        finally:
            await embedder.aclose()

    def get_definition(self) -> AIToolDefinition:
        """The configuration definition with the evaluation parameters."""
        return with_parameters(super().get_definition(), _EXTRA_CONFIGURATION)

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """The configuration operations plus the two evaluation operations."""
        ops = super().get_operation_definitions()
        ops["test_configuration"] = AIToolOperationDefinition(
            "test_configuration",
            self._test,
            None,
            {"company_id", "version", "test_cases", "judge_model"},
            {"company_id", "test_cases"},
            "Run a company's configuration (model, prompt) on test cases with assertions "
            "(contains, regex, JSON schema, rubric): pass rate, latency, tokens, cost",
            read_only=True,
            timeout=TIMEOUT,
        )
        ops["compare_configurations"] = AIToolOperationDefinition(
            "compare_configurations",
            self._compare,
            None,
            {"company_id", "versions", "company_ids", "test_cases", "judge_model"},
            {"test_cases"},
            "Run the same test cases on two configurations (two versions of company_id, or "
            "the active ones of two company_ids): side-by-side matrix and summaries",
            read_only=True,
            timeout=TIMEOUT,
        )
        ops["optimize_prompt"] = AIToolOperationDefinition(
            "optimize_prompt",
            self._optimize,
            None,
            {"company_id", "version", "test_cases", "judge_model", "optimizer_model", "rounds"},
            {"company_id", "test_cases"},
            "Have a model rewrite a company's system prompt from its failing test cases and "
            "measure each candidate on the same cases; changes nothing (apply the best one "
            "with update_prompt)",
            read_only=True,
            timeout=TIMEOUT,
        )
        return ops

    async def _test(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        models = CallModels.for_call(self._settings, self._model_factory, requester_ref)
        cases = _cases(args)
        config = await call_service(
            self._config_service.get_configuration, args["company_id"], args.get("version")
        )
        subject, judge = models.for_config(config), models.judge(args)
        try:
            async with self._grounded(subject, config) as grounded:
                suite = await run_suite(grounded, cases, judge=judge)
        except (LLMEgressError, ServiceError) as error:
            raise AIToolExecutionError(f"test_configuration: {error}") from error
        finally:
            await _close(subject.model, judge)
        failed = [c.name for c in suite.cases if not c.passed]
        if failed:  # a platform event (test.failed) that webhooks can subscribe to
            await call_service(
                self._config_service.record_test_failure,
                config.company_id,
                config.version,
                summary=suite.summary(),
                failed=failed,
            )
        return tool_result(tool_call, suite_line(suite), suite.to_dict(), cost_usd=_spent(suite))

    async def _pair(self, args: dict[str, Any]) -> list[ConfigVersion]:
        versions, companies = args.get("versions"), args.get("company_ids")
        get = self._config_service.get_configuration
        if versions is not None and args.get("company_id") and len(versions) == 2:
            return [await call_service(get, args["company_id"], v) for v in versions]
        if companies is not None and versions is None and len(companies) == 2:
            return [await call_service(get, c) for c in companies]
        raise AIToolExecutionError(
            "compare_configurations needs company_id with versions=[a, b], or "
            f"company_ids=[x, y]; got versions={versions!r}, company_ids={companies!r}"
        )

    async def _compare(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        models = CallModels.for_call(self._settings, self._model_factory, requester_ref)
        cases = _cases(args)
        subjects = [models.for_config(c) for c in await self._pair(args)]
        judge = models.judge(args)
        try:
            suites = [await run_suite(s, cases, judge=judge) for s in subjects]
        except LLMEgressError as error:
            raise AIToolExecutionError(f"compare_configurations: {error}") from error
        finally:
            await _close(*(s.model for s in subjects), judge)
        summary = "\n".join(suite_line(s) for s in suites)
        return tool_result(tool_call, summary, comparison_matrix(suites), cost_usd=_spent(*suites))

    async def _optimize(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        models = CallModels.for_call(self._settings, self._model_factory, requester_ref)
        cases = _cases(args)
        rounds = args.get("rounds", 1)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
            raise AIToolExecutionError(f"rounds must be 1 to {MAX_ROUNDS}, got {rounds!r}")
        config = await call_service(
            self._config_service.get_configuration, args["company_id"], args.get("version")
        )
        subject, judge = models.for_config(config), models.judge(args)
        optimizer = models.get(args.get("optimizer_model") or models.spec_of(config))
        try:
            result = await optimize_prompt(
                subject, cases, optimizer=optimizer, judge=judge, rounds=rounds
            )
        except LLMError as error:
            raise AIToolExecutionError(f"optimize_prompt: {error}") from error
        finally:
            await _close(subject.model, judge, optimizer)
        spent = _spent(result.current, *(c.suite for c in result.candidates))
        spent += result.optimizer_cost_usd or 0.0
        summary = _optimization_summary(config, result)
        return tool_result(tool_call, summary, result.to_dict(), cost_usd=spent)


def _optimization_summary(config: ConfigVersion, result: OptimizationResult) -> str:
    lines = [f"{config.company_id} v{config.version}: " + suite_line(result.current)]
    lines += [f"round {c.round}: " + suite_line(c.suite) for c in result.candidates]
    best = result.best
    if best is None:
        lines.append("No candidate beat the current prompt; nothing to apply.")
    else:
        lines.append(
            f"Best: round {best.round}. Nothing was changed: to apply it, call update_prompt "
            f"for {config.company_id!r} with this prompt:\n{best.prompt}"
        )
    return "\n".join(lines)


class EvaluatingAnalyticsTool(AnalyticsTool):
    """The ``analytics`` tool plus ``benchmark_models``."""

    model_operations: ClassVar[frozenset[str]] = frozenset({"benchmark_models"})

    def __init__(
        self,
        service: AnalyticsService,
        workspace: Path,
        settings: Settings,
        *,
        model_factory: ModelFactory | None = None,
    ) -> None:
        super().__init__(service, workspace)
        self._settings = settings
        self._model_factory = model_factory

    def get_definition(self) -> AIToolDefinition:
        """The analytics definition with the benchmark parameters."""
        return with_parameters(super().get_definition(), _EXTRA_ANALYTICS)

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """The analytics operations plus ``benchmark_models``."""
        ops = super().get_operation_definitions()
        ops["benchmark_models"] = AIToolOperationDefinition(
            "benchmark_models",
            self._benchmark,
            None,
            {"models", "test_cases", "system_prompt", "judge_model"},
            {"models", "test_cases"},
            "Run one test suite across several models (provider:model specs): pass rate, "
            "latency, tokens and cost per model, side by side",
            read_only=True,
            timeout=TIMEOUT,
        )
        return ops

    async def _benchmark(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        models = CallModels.for_call(self._settings, self._model_factory, requester_ref)
        cases = _cases(args)
        specs = args["models"]
        if not specs or len(specs) > MAX_MODELS or len(set(specs)) != len(specs):
            raise AIToolExecutionError(
                f"models must list 1 to {MAX_MODELS} distinct provider:model specs, got {specs!r}"
            )
        subjects = [
            Subject(label=spec, model=models.get(spec), system_prompt=args.get("system_prompt"))
            for spec in specs
        ]
        judge = models.judge(args)
        try:
            suites = [await run_suite(s, cases, judge=judge) for s in subjects]
        except LLMEgressError as error:
            raise AIToolExecutionError(f"benchmark_models: {error}") from error
        finally:
            await _close(*(s.model for s in subjects), judge)
        ranked = sorted(suites, key=lambda s: -s.pass_rate)
        summary = "\n".join(suite_line(s) for s in ranked)
        return tool_result(tool_call, summary, comparison_matrix(suites), cost_usd=_spent(*suites))
