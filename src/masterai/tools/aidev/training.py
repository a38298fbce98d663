"""The ``training`` part of ``aidev``: datasets, fine-tune jobs and model evaluation.

``prepare_training_data`` writes a versioned dataset into the company's workspace area
(with the caller's workspace permissions); ``fine_tune_model`` uploads one and starts a job
at the provider (OpenAI through the official SDK); ``get_fine_tune_job``,
``list_fine_tune_jobs`` and ``cancel_fine_tune_job`` follow it; ``evaluate_model`` runs a
test set on a model and stores the metrics per (model, test set version). ``list_datasets``
and ``list_model_evaluations`` read back what is stored (the console's pages use them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.llm import LLMConfigurationError, LLMError, Model
from masterai.security import ParameterRole, Principal
from masterai.security.workspace import WorkspaceError
from masterai.services.aidev.datasets import DatasetFormat, DatasetService, check_request
from masterai.services.aidev.finetune import (
    FineTuneBackend,
    FineTuneService,
    JobStatus,
    OpenAIFineTuneBackend,
)
from masterai.services.aidev.modeleval import (
    EXPECTED_METRICS,
    ModelEvaluationService,
    dataset_test_set,
    evaluate,
    given_test_set,
)
from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError
from masterai.tools.adapter import tool_result
from masterai.tools.aidev.prompts import COMPANY_ID, JUDGE_MODEL, ModelFactory, ModelSource
from masterai.tools.files import principal_of, tool_error

if TYPE_CHECKING:
    from masterai.settings import Settings
    from masterai.store import Database

TIMEOUT = 900.0

PARAMETERS = [
    COMPANY_ID,
    JUDGE_MODEL,
    AIToolParameter(
        "conversations",
        "array",
        "Conversations to use instead of the company's stored ones: "
        "[{id?, messages: [{role, content}], metadata?}]",
        required=False,
    ),
    AIToolParameter(
        "format",
        "string",
        "Dataset format (default openai_chat)",
        required=False,
        enum=[f.value for f in DatasetFormat],
    ),
    AIToolParameter(
        "filters",
        "object",
        "Filters. prepare_training_data: {resolved?, min_rating?, not_escalated?, "
        "date_from?, date_to?, topics?}; search_similar: metadata {key: value or [values]}",
        required=False,
    ),
    AIToolParameter("name", "string", "Dataset name (default conversations)", required=False),
    AIToolParameter(
        "validation_fraction",
        "number",
        "Share held out for validation, 0 to 0.5 (default 0.2)",
        required=False,
    ),
    AIToolParameter(
        "target_model",
        "string",
        "Model the dataset is for (its context limits example length)",
        required=False,
        role=ParameterRole.MODEL,
    ),
    AIToolParameter(
        "model_id",
        "string",
        "provider:model to fine-tune (fine_tune_model) or to evaluate (evaluate_model)",
        required=False,
        role=ParameterRole.MODEL,
    ),
    AIToolParameter(
        "dataset",
        "string",
        "Workspace path of a dataset version folder or a .jsonl file",
        required=False,
        role=ParameterRole.PATH,
    ),
    AIToolParameter(
        "validation_dataset",
        "string",
        "Workspace path of a validation .jsonl (default: the dataset folder's)",
        required=False,
        role=ParameterRole.PATH,
    ),
    AIToolParameter(
        "hyperparameters",
        "object",
        "n_epochs, batch_size, learning_rate_multiplier (and beta for preference data)",
        required=False,
    ),
    AIToolParameter("suffix", "string", "Suffix of the fine-tuned model's name", required=False),
    AIToolParameter("job_id", "integer", "Fine-tune job id", required=False),
    AIToolParameter("status", "string", "Only jobs with this status", required=False),
    AIToolParameter(
        "test_set",
        "object",
        "{cases: [{input, system?, expected?, assertions?}], name?}, {dataset: path} or "
        "{suite: company id, version?} (a stored test suite)",
        required=False,
    ),
    AIToolParameter(
        "test_set_name",
        "string",
        "Only evaluations on this test set (its name: given name, suite:<company> or the "
        "dataset path)",
        required=False,
    ),
    AIToolParameter(
        "metrics",
        "array",
        "Checks derived from each case's expected answer: exact, contains, rubric "
        "(default exact, contains)",
        required=False,
        items=AIToolParameter("metric", "string", "Metric"),
    ),
]


def _openai_backends(settings: Settings) -> Callable[[str], FineTuneBackend]:
    """OpenAI backends on the configured OpenAI endpoint, through the egress guard."""

    def build(provider: str) -> FineTuneBackend:
        from masterai.llm import build_model
        from masterai.llm.openai_chat import OpenAIChatModel

        try:
            model = build_model(settings, f"{provider}:fine-tuning", allowed_hosts=frozenset())
        except LLMConfigurationError as error:
            raise InvalidInputError(str(error)) from error
        if not isinstance(model, OpenAIChatModel):
            raise InvalidInputError(f"provider {provider!r} has no fine-tuning API")
        return OpenAIFineTuneBackend(model.provider.client)

    return build


class TrainingPart:
    """Training data, fine-tune jobs and model evaluation over :mod:`masterai.services.aidev`.

    Args:
        settings: the settings (models, ``aidev`` prices).
        datasets: the dataset service.
        evaluations: where model evaluations are stored.
        database: the job records' database.
        backends: builds a provider's fine-tuning backend (tests: a fake endpoint).
        model_factory: builds models from specs (tests).
    """

    model_operations = frozenset({"fine_tune_model", "evaluate_model"})

    def __init__(
        self,
        settings: Settings,
        database: Database,
        datasets: DatasetService,
        *,
        backends: Callable[[str], FineTuneBackend] | None = None,
        model_factory: ModelFactory | None = None,
    ) -> None:
        self._settings = settings
        self._datasets = datasets
        self._evaluations = ModelEvaluationService(database)
        self._database = database
        self._backends = backends
        self._factory = model_factory

    def fine_tunes(self) -> FineTuneService:
        """The fine-tune service (on the operator's configured provider endpoints)."""
        backends = self._backends or _openai_backends(self._settings)
        return FineTuneService(
            self._database,
            self._datasets,
            backends,
            training_prices=self._settings.aidev.training_prices,
        )

    def parameters(self) -> list[AIToolParameter]:
        """The part's parameters."""
        return list(PARAMETERS)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """The training operations."""
        op = AIToolOperationDefinition
        return {
            "prepare_training_data": op(
                "prepare_training_data",
                self._prepare,
                None,
                {
                    "company_id",
                    "conversations",
                    "format",
                    "filters",
                    "name",
                    "validation_fraction",
                    "target_model",
                },
                {"company_id"},
                "Build a training dataset from a company's conversations (or given ones): "
                "filtered, personal data scrubbed, validated, split, written as a new version "
                "under companies/<id>/datasets/<name>/",
                timeout=TIMEOUT,
            ),
            "fine_tune_model": op(
                "fine_tune_model",
                self._fine_tune,
                None,
                {"model_id", "dataset", "validation_dataset", "hyperparameters", "suffix"},
                {"model_id", "dataset"},
                "Start a fine-tuning job (OpenAI) on a prepared dataset; follow it with "
                "get_fine_tune_job",
                timeout=TIMEOUT,
            ),
            "get_fine_tune_job": op(
                "get_fine_tune_job",
                self._get,
                None,
                {"job_id"},
                {"job_id"},
                "A fine-tune job's stored status, events, resulting model and cost (kept "
                "current by the tracker; refresh_fine_tune_job asks the provider now)",
                read_only=True,
            ),
            "refresh_fine_tune_job": op(
                "refresh_fine_tune_job",
                self._refresh,
                None,
                {"job_id"},
                {"job_id"},
                "Ask the provider for an unfinished fine-tune job's status and events, store "
                "them, and emit fine_tune.succeeded / fine_tune.failed when it has finished",
                timeout=TIMEOUT,
            ),
            "list_fine_tune_jobs": op(
                "list_fine_tune_jobs",
                self._list,
                None,
                {"company_id", "status"},
                set(),
                "Fine-tune jobs, newest first",
                read_only=True,
            ),
            "list_datasets": op(
                "list_datasets",
                self._datasets_of,
                None,
                {"company_id"},
                {"company_id"},
                "A company's training datasets: each version's manifest (format, example "
                "counts, validation report, personal data scrubbed), newest first",
                read_only=True,
            ),
            "list_model_evaluations": op(
                "list_model_evaluations",
                self._evaluations_of,
                None,
                {"test_set_name", "model_id"},
                set(),
                "Stored model evaluations, one comparable table per test set version "
                "(optionally one test set, or those a model was evaluated on)",
                read_only=True,
            ),
            "cancel_fine_tune_job": op(
                "cancel_fine_tune_job",
                self._cancel,
                None,
                {"job_id"},
                {"job_id"},
                "Cancel an unfinished fine-tune job",
                timeout=TIMEOUT,
            ),
            "evaluate_model": op(
                "evaluate_model",
                self._evaluate,
                None,
                {"model_id", "test_set", "metrics", "judge_model"},
                {"model_id", "test_set"},
                "Run a test set (given cases or a dataset's validation split) on a model: "
                "pass rate per check type, latency p50/p95, tokens, cost; stored and compared "
                "with every model evaluated on the same test set version",
                read_only=False,  # it stores the evaluation (and spends on the model)
                timeout=TIMEOUT,
            ),
        }

    async def _service(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
            return await result if asyncio.iscoroutine(result) else result
        except WorkspaceError as error:
            raise tool_error(error) from error
        except NotFoundError as error:
            raise AIToolNotFoundError(str(error)) from error
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error

    async def _prepare(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        principal = principal_of(requester_ref)
        request = await self._service(check_request, tool_call.arguments)
        manifest = await self._service(
            asyncio.to_thread, self._datasets.prepare, principal, request
        )
        scrubbed = ", ".join(f"{k} {v}" for k, v in manifest["scrubbed"].items() if v)
        summary = (
            f"{manifest['dataset']}: {manifest['train']['examples']} training and "
            f"{manifest['validation']['examples']} validation examples "
            f"({manifest['format']}); scrubbed: {scrubbed or 'nothing'}"
        )
        return tool_result(tool_call, summary, manifest)

    def _check_job_access(self, job: Mapping[str, Any], requester: Any) -> None:
        company = job.get("company_id")
        readable = not isinstance(requester, Principal) or (
            requester.permissions.data_access.can_read(company) if company else True
        )
        if not readable:
            raise AIToolAuthorizationDenied(
                f"Permission denied: fine-tune job {job['id']} belongs to {company!r}"
            )

    async def _fine_tune(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        principal = principal_of(requester_ref)
        job = await self._service(
            self.fine_tunes().start,
            principal,
            model_id=args["model_id"],
            dataset=args["dataset"],
            validation_dataset=args.get("validation_dataset"),
            hyperparameters=args.get("hyperparameters"),
            suffix=args.get("suffix"),
        )
        summary = (
            f"fine-tune job {job['id']} ({job['provider_job_id']}) started on "
            f"{job['base_model']}: {job['status']}"
        )
        return tool_result(tool_call, summary, job)

    async def _get(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        job = await self._service(
            self.fine_tunes().get, tool_call.arguments["job_id"], refresh=False
        )
        self._check_job_access(job, requester_ref)
        return tool_result(tool_call, _job_line(job), job)

    async def _refresh(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        service = self.fine_tunes()
        job_id = tool_call.arguments["job_id"]
        stored = await self._service(service.get, job_id, refresh=False)
        self._check_job_access(stored, requester_ref)
        job = await self._service(service.get, job_id)
        return tool_result(tool_call, _job_line(job), job)

    async def _list(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        jobs = await self._service(
            asyncio.to_thread,
            self.fine_tunes().list_jobs,
            company_id=args.get("company_id"),
            status=args.get("status"),
        )
        if isinstance(requester_ref, Principal):
            access = requester_ref.permissions.data_access
            jobs = [j for j in jobs if not j["company_id"] or access.can_read(j["company_id"])]
        lines = [f"{j['id']} {j['status']} {j['base_model']} {j['dataset']}" for j in jobs]
        return tool_result(tool_call, "\n".join(lines) or "no fine-tune jobs", {"jobs": jobs})

    async def _datasets_of(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        company = tool_call.arguments["company_id"]
        datasets = await self._service(
            asyncio.to_thread, self._datasets.versions, principal_of(requester_ref), company
        )
        lines = [
            f"{d['name']}: v{v['version']} {v['train']['examples']}+"
            f"{v['validation']['examples']} examples ({v['format']})"
            for d in datasets
            for v in d["versions"]
        ]
        summary = "\n".join(lines) or f"{company} has no datasets"
        return tool_result(tool_call, summary, {"company_id": company, "datasets": datasets})

    async def _evaluations_of(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        groups = await self._service(
            asyncio.to_thread,
            self._evaluations.listing,
            test_set=args.get("test_set_name"),
            model=args.get("model_id"),
        )
        if isinstance(requester_ref, Principal):
            # A suite's or a dataset's results are that company's data.
            access = requester_ref.permissions.data_access
            groups = [g for g in groups if not g["company_id"] or access.can_read(g["company_id"])]
        lines = [
            f"{g['test_set']} {g['test_set_version']}: "
            + ", ".join(f"{r['model']} {r['pass_rate']}" for r in g["rows"])
            for g in groups
        ]
        summary = "\n".join(lines) or "no model evaluations"
        return tool_result(tool_call, summary, {"evaluations": groups})

    async def _cancel(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        service = self.fine_tunes()
        job_id = tool_call.arguments["job_id"]
        stored = await self._service(service.get, job_id, refresh=False)
        self._check_job_access(stored, requester_ref)
        job = await self._service(service.cancel, job_id)
        return tool_result(tool_call, f"fine-tune job {job['id']}: {job['status']}", job)

    async def _test_set(self, raw: Any, requester: Any) -> Any:
        forms = [k for k in ("cases", "dataset", "suite") if isinstance(raw, dict) and k in raw]
        if len(forms) != 1:
            raise AIToolExecutionError(
                "test_set must be {cases: [...], name?}, {dataset: workspace path} or "
                f"{{suite: company id, version?}}, got {raw!r:.120}"
            )
        if "cases" in raw:
            return await self._service(given_test_set, raw)
        if "suite" in raw:
            company, version = raw["suite"], raw.get("version")
            access = getattr(requester, "permissions", None)
            if access is not None and not access.data_access.can_read(str(company)):
                raise AIToolAuthorizationDenied(
                    f"Permission denied: the test suite of {company!r} is not readable"
                )
            if isinstance(version, bool) or not isinstance(version, int | None):
                raise AIToolExecutionError(f"test_set.version must be an integer, got {version!r}")
            return await self._service(
                asyncio.to_thread, self._evaluations.suite_test_set, str(company), version
            )
        path = raw["dataset"]
        if not isinstance(path, str):
            raise AIToolExecutionError(f"test_set.dataset must be a path, got {path!r}")
        principal = principal_of(requester)
        lines = await self._service(
            asyncio.to_thread, self._datasets.read_examples, principal, path
        )
        return await self._service(dataset_test_set, path, lines)

    async def _evaluate(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        metrics = args.get("metrics") or ["exact", "contains"]
        unknown = [m for m in metrics if m not in EXPECTED_METRICS]
        if unknown:
            raise AIToolExecutionError(
                f"unknown metrics {unknown}; metrics: {', '.join(EXPECTED_METRICS)}"
            )
        test_set = await self._test_set(args["test_set"], requester_ref)
        models = ModelSource(self._settings, self._factory, requester_ref)
        try:
            model: Model = models.get(args["model_id"])
            judge = models.get(args["judge_model"]) if args.get("judge_model") else None
            if judge is None and ("rubric" in metrics or _has_rubric(test_set)):
                judge = model
            result = await evaluate(model, test_set, metrics=metrics, judge=judge)
        except LLMError as error:
            raise AIToolExecutionError(f"evaluate_model: {error}") from error
        finally:
            await models.aclose()
        author = getattr(requester_ref, "name", None)
        await asyncio.to_thread(self._evaluations.store, result, created_by=author)
        result["comparison"] = await asyncio.to_thread(
            self._evaluations.comparison, test_set.name, test_set.version
        )
        summary = (
            f"{result['model']} on {test_set.name} ({test_set.version}): pass rate "
            f"{result['pass_rate']:.0%}, p50 {result['latency_ms']['p50']} ms; "
            f"{len(result['comparison'])} model(s) compared"
        )
        return tool_result(tool_call, summary, result, cost_usd=result["cost_usd"] or 0.0)


def _has_rubric(test_set: Any) -> bool:
    return any(a.type == "rubric" for c in test_set.cases for a in c.assertions)


def build(settings: Settings, database: Database) -> TrainingPart:
    """The training part over the database and the company workspace."""
    from masterai.security.workspace import WorkspaceService

    datasets = DatasetService(database, WorkspaceService(settings.workspace))
    return TrainingPart(settings, database, datasets)


__all__ = ["JobStatus", "TrainingPart", "build"]


def _job_line(job: Mapping[str, Any]) -> str:
    model = f"; model {job['fine_tuned_model']}" if job["fine_tuned_model"] else ""
    return f"fine-tune job {job['id']}: {job['status']}{model}"
