"""The ``prompts`` part of ``aidev``: optimize_prompt, generate_prompt_variations, evaluate_prompt.

``optimize_prompt`` takes the seed's form (``current_prompt`` plus ``examples``) or the
company form of ``configuration.optimize_prompt`` (``company_id``); both run
:func:`masterai.llm.evaluation.optimize_prompt`. All three operations call models: they are
read-only but listed in ``model_operations``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.llm import LLMConfigurationError, LLMError, Model, build_model, configured_model
from masterai.llm.evaluation import MAX_ROUNDS, Subject, optimize_prompt
from masterai.security import ParameterRole, Principal
from masterai.services.aidev.prompts import (
    PromptEvaluator,
    check_variation_request,
    examples_to_cases,
    generate_variations,
    parse_criteria,
    sample_cases,
)
from masterai.services.errors import ServiceError
from masterai.tools.adapter import call_service, tool_result

if TYPE_CHECKING:
    from masterai.services.configs import ConfigurationService
    from masterai.settings import Settings
    from masterai.store import Database

ModelFactory = Callable[[str], Model]
TIMEOUT = 600.0

COMPANY_ID = AIToolParameter(
    "company_id", "string", "The company", required=False, role=ParameterRole.COMPANY
)
MODEL = AIToolParameter(
    "model",
    "string",
    "A model: provider:model[@base_url] that answers (prompt operations; default the "
    "configured model), or the embedding model (update_embeddings)",
    required=False,
    role=ParameterRole.MODEL,
)
JUDGE_MODEL = AIToolParameter(
    "judge_model",
    "string",
    "provider:model judging rubric criteria (default: model)",
    required=False,
    role=ParameterRole.MODEL,
)
TEST_CASES = AIToolParameter(
    "test_cases",
    "array",
    "Test inputs (strings) the model answers under the prompt",
    required=False,
    items=AIToolParameter("input", "string", "Test input"),
)

PARAMETERS = [
    COMPANY_ID,
    MODEL,
    JUDGE_MODEL,
    TEST_CASES,
    AIToolParameter(
        "sample_size",
        "integer",
        "Evaluate this many of test_cases, drawn with seed (default: all)",
        required=False,
    ),
    AIToolParameter(
        "seed", "integer", "Seed of the sample of test_cases (default 0)", required=False
    ),
    AIToolParameter("current_prompt", "string", "The system prompt to improve", required=False),
    AIToolParameter(
        "examples",
        "array",
        "Example inputs with the behaviour wanted: strings or {input, expected?, assertions?}",
        required=False,
    ),
    AIToolParameter(
        "rounds", "integer", f"Rewrite rounds, 1 to {MAX_ROUNDS} (default 1)", required=False
    ),
    AIToolParameter("base_prompt", "string", "The prompt to vary", required=False),
    AIToolParameter("count", "integer", "How many variations (1 to 10)", required=False),
    AIToolParameter(
        "strategies",
        "array",
        "Strategies, one per variation (default: shorter, more formal, ...)",
        required=False,
        items=AIToolParameter("strategy", "string", "Strategy"),
    ),
    AIToolParameter("prompt", "string", "The prompt to evaluate", required=False),
    AIToolParameter(
        "criteria",
        "array",
        "Rubric: {name, type: contains|not_contains|regex|json_schema|max_length|language|"
        "judge, description?, weight?, value?, schema?, max_length?}",
        required=False,
    ),
]


class ModelSource:
    """Builds the models of one call: for the calling principal, or from a test factory."""

    def __init__(self, settings: Settings, factory: ModelFactory | None, requester: Any) -> None:
        self._settings = settings
        self._factory = factory
        self._domains = (
            requester.permissions.integrations.allowed_domains
            if isinstance(requester, Principal)
            else frozenset()
        )
        self.built: list[Model] = []

    def get(self, spec: str | None) -> Model:
        """The model ``spec`` names (default: the configured model)."""
        spec = spec or configured_model(self._settings)
        try:
            if self._factory is not None and spec:
                model = self._factory(spec)
            else:
                model = build_model(self._settings, spec, allowed_hosts=self._domains)
        except LLMConfigurationError as error:
            raise AIToolExecutionError(str(error)) from error
        self.built.append(model)
        return model

    async def aclose(self) -> None:
        """Close every model built."""
        for model in self.built:
            await model.aclose()


async def _run(what: str, coroutine: Any) -> Any:
    try:
        return await coroutine
    except ServiceError as error:
        raise AIToolExecutionError(str(error)) from error
    except LLMError as error:
        raise AIToolExecutionError(f"{what}: {error}") from error


class PromptsPart:
    """Prompt engineering operations over :mod:`masterai.services.aidev.prompts`."""

    model_operations = frozenset(
        {"optimize_prompt", "generate_prompt_variations", "evaluate_prompt"}
    )

    def __init__(
        self,
        settings: Settings,
        configs: ConfigurationService,
        *,
        model_factory: ModelFactory | None = None,
    ) -> None:
        self._settings = settings
        self._configs = configs
        self._factory = model_factory
        self._evaluator = PromptEvaluator()

    def parameters(self) -> list[AIToolParameter]:
        """The part's parameters."""
        return list(PARAMETERS)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """optimize_prompt, generate_prompt_variations, evaluate_prompt."""
        return {
            "optimize_prompt": AIToolOperationDefinition(
                "optimize_prompt",
                self._optimize,
                None,
                {"current_prompt", "company_id", "examples", "model", "judge_model", "rounds"},
                {"examples"},
                "Have a model rewrite a system prompt (current_prompt, or company_id's "
                "active one) from examples of the behaviour wanted, measuring each candidate; "
                "changes nothing",
                read_only=True,
                timeout=TIMEOUT,
            ),
            "generate_prompt_variations": AIToolOperationDefinition(
                "generate_prompt_variations",
                self._variations,
                None,
                {"base_prompt", "count", "strategies", "model"},
                {"base_prompt", "count"},
                "A model writes count variations of a prompt, one per strategy, deduplicated",
                read_only=True,
                timeout=TIMEOUT,
            ),
            "evaluate_prompt": AIToolOperationDefinition(
                "evaluate_prompt",
                self._evaluate,
                None,
                {"prompt", "criteria", "test_cases", "sample_size", "seed", "model", "judge_model"},
                {"prompt", "criteria"},
                "Score a prompt against a rubric (deterministic checks and a 1-5 model "
                "judge), on the prompt itself or on the model's answers to test cases (all, "
                "or a repeatable sample: sample_size with seed)",
                read_only=True,
                timeout=TIMEOUT,
            ),
        }

    async def _subject(self, args: dict[str, Any], models: ModelSource) -> Subject:
        prompt, company = args.get("current_prompt"), args.get("company_id")
        if (prompt is None) == (company is None):
            raise AIToolExecutionError(
                "optimize_prompt needs exactly one of current_prompt (the seed's form) or "
                "company_id (the company's active prompt)"
            )
        if prompt is not None:
            if not prompt.strip():
                raise AIToolExecutionError("current_prompt must not be empty")
            spec = args.get("model")
            return Subject(label="current", model=models.get(spec), system_prompt=prompt)
        config = await call_service(self._configs.get_configuration, company)
        spec = args.get("model")
        if not spec:
            if not config.provider or not config.model:
                raise AIToolExecutionError(f"{company} names no provider/model: give 'model'")
            base_url = config.settings.get("base_url")
            spec = f"{config.provider}:{config.model}" + (f"@{base_url}" if base_url else "")
        return Subject(
            label=f"{company} v{config.version}",
            model=models.get(spec),
            system_prompt=config.system_prompt,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
        )

    async def _optimize(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        rounds = args.get("rounds", 1)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
            raise AIToolExecutionError(f"rounds must be 1 to {MAX_ROUNDS}, got {rounds!r}")
        try:
            cases = examples_to_cases(args["examples"])
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error
        models = ModelSource(self._settings, self._factory, requester_ref)
        try:
            subject = await self._subject(args, models)
            optimizer = models.get(args.get("model") or subject.model.name)
            judge = models.get(args["judge_model"]) if args.get("judge_model") else optimizer
            result = await _run(
                "optimize_prompt",
                optimize_prompt(subject, cases, optimizer=optimizer, judge=judge, rounds=rounds),
            )
        finally:
            await models.aclose()
        best = result.best
        spent = sum(
            c.cost_usd or 0.0
            for s in (result.current, *(c.suite for c in result.candidates))
            for c in s.cases
        )
        spent += result.optimizer_cost_usd or 0.0
        summary = f"current prompt: {result.current.pass_rate:.0%} of examples; " + (
            f"best candidate (round {best.round}): {best.suite.pass_rate:.0%}. Nothing was changed."
            if best
            else "no candidate did better; nothing to apply."
        )
        return tool_result(tool_call, summary, result.to_dict(), cost_usd=spent)

    async def _variations(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        try:
            strategies = check_variation_request(
                args["base_prompt"], args["count"], args.get("strategies")
            )
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error
        models = ModelSource(self._settings, self._factory, requester_ref)
        try:
            model = models.get(args.get("model"))
            variations, dropped, cost = await _run(
                "generate_prompt_variations",
                generate_variations(model, args["base_prompt"], strategies),
            )
        finally:
            await models.aclose()
        data = {
            "variations": [{"strategy": v.strategy, "prompt": v.prompt} for v in variations],
            "duplicates_dropped": dropped,
        }
        summary = f"{len(variations)} variation(s) ({dropped} duplicate(s) dropped): " + ", ".join(
            v.strategy for v in variations
        )
        return tool_result(tool_call, summary, data, cost_usd=cost)

    async def _evaluate(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        prompt = args["prompt"]
        given = args.get("test_cases") or []
        try:
            if not isinstance(prompt, str) or not prompt.strip():
                raise AIToolExecutionError("prompt must be non-empty text")
            criteria = parse_criteria(args["criteria"])
            cases = sample_cases(given, args.get("sample_size"), args.get("seed", 0))
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error
        needs_judge = any(c.type == "judge" for c in criteria)
        models = ModelSource(self._settings, self._factory, requester_ref)
        evaluator = self._evaluator
        spent_before = evaluator.cost_usd
        try:
            model = models.get(args.get("model")) if cases or args.get("model") else None
            judge_spec = args.get("judge_model")
            judge = models.get(judge_spec) if judge_spec else model
            if judge is None and needs_judge:
                judge = models.get(None)
            data = await _run(
                "evaluate_prompt",
                evaluator.evaluate(prompt, criteria, cases, model=model, judge_model=judge),
            )
        finally:
            await models.aclose()
        data["cache_hits"] = evaluator.cache_hits
        if len(cases) < len(given):
            data["sample"] = {"cases": cases, "of": len(given), "seed": args.get("seed", 0)}
        lines = [f"weighted score {data['weighted_score']}"]
        lines += [f"{c['name']}: {c['score']}" for c in data["criteria"]]
        return tool_result(
            tool_call, "; ".join(lines), data, cost_usd=evaluator.cost_usd - spent_before
        )


def build(settings: Settings, database: Database) -> PromptsPart:
    """The prompts part over the database's configurations."""
    from masterai.services.configs import ConfigurationService

    return PromptsPart(settings, ConfigurationService(database))
