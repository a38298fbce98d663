"""Fine-tuning jobs behind a provider-neutral record, and the tracker that polls them.

A :class:`FineTuneBackend` is one provider's fine-tuning API (upload a file, create, retrieve,
cancel a job, list its events); :class:`OpenAIFineTuneBackend` drives OpenAI's through the
official SDK. :class:`FineTuneService` keeps the job record (``fine_tune_jobs``) with the
statuses of :class:`JobStatus`; when a job reaches ``succeeded`` or ``failed`` it emits
``fine_tune.succeeded`` / ``fine_tune.failed`` in the same transaction as the status change,
so an event is emitted exactly once whoever notices first (a ``get`` or the tracker).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select

from masterai.events import emit
from masterai.events.types import EventType
from masterai.security import Principal
from masterai.services.aidev.datasets import MIN_EXAMPLES, DatasetService
from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError
from masterai.store import Database
from masterai.store.models.aidev import FineTuneJob

log = logging.getLogger(__name__)

FINE_TUNING_PROVIDERS = ("openai",)
HYPERPARAMETERS = frozenset({"n_epochs", "batch_size", "learning_rate_multiplier", "beta"})


class JobStatus(StrEnum):
    """Where a fine-tune job stands (OpenAI's vocabulary, which others map onto)."""

    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """No further change will come."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class FineTuneError(ServiceError):
    """The provider refused or failed a fine-tuning request (the message says why)."""


@dataclass(frozen=True, kw_only=True)
class RemoteJob:
    """A job as the provider reports it."""

    id: str
    status: JobStatus
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None


class FineTuneBackend(Protocol):
    """One provider's fine-tuning API."""

    async def upload(self, *, filename: str, data: bytes) -> str:
        """Upload a training file; its id."""
        ...

    async def create(
        self,
        *,
        model: str,
        training_file: str,
        validation_file: str | None,
        method: Mapping[str, Any],
        suffix: str | None,
    ) -> RemoteJob:
        """Start a job."""
        ...

    async def retrieve(self, job_id: str) -> RemoteJob:
        """The job now."""
        ...

    async def cancel(self, job_id: str) -> RemoteJob:
        """Cancel the job."""
        ...

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's events, oldest first."""
        ...

    async def aclose(self) -> None:
        """Release the client."""
        ...


BackendFactory = Callable[[str], FineTuneBackend]
"""Builds the backend of a provider (``openai``)."""


class OpenAIFineTuneBackend:
    """OpenAI's files and fine_tuning.jobs endpoints through the official SDK.

    Args:
        client: an ``openai.AsyncOpenAI`` client (its HTTP client from the egress guard).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    async def _call(self, what: str, coroutine: Any) -> Any:
        import openai

        try:
            return await coroutine
        except openai.APIStatusError as error:
            detail = getattr(error, "message", str(error))
            raise FineTuneError(f"OpenAI refused {what} ({error.status_code}): {detail}") from error
        except openai.APIError as error:
            raise FineTuneError(f"OpenAI {what} failed: {error}") from error

    @staticmethod
    def _job(job: Any) -> RemoteJob:
        error = getattr(job, "error", None)
        message = getattr(error, "message", None) if error is not None else None
        return RemoteJob(
            id=job.id,
            status=JobStatus(job.status),
            fine_tuned_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            error=message,
        )

    async def upload(self, *, filename: str, data: bytes) -> str:
        """Upload with ``purpose="fine-tune"``."""
        created = await self._call(
            "the file upload",
            self._client.files.create(file=(filename, data), purpose="fine-tune"),
        )
        return str(created.id)

    async def create(
        self,
        *,
        model: str,
        training_file: str,
        validation_file: str | None,
        method: Mapping[str, Any],
        suffix: str | None,
    ) -> RemoteJob:
        """``fine_tuning.jobs.create`` with ``method`` (top-level hyperparameters: deprecated)."""
        extra: dict[str, Any] = {"method": dict(method)}
        if validation_file:
            extra["validation_file"] = validation_file
        if suffix:
            extra["suffix"] = suffix
        job = await self._call(
            "the job",
            self._client.fine_tuning.jobs.create(model=model, training_file=training_file, **extra),
        )
        return self._job(job)

    async def retrieve(self, job_id: str) -> RemoteJob:
        """``fine_tuning.jobs.retrieve``."""
        return self._job(
            await self._call("the job lookup", self._client.fine_tuning.jobs.retrieve(job_id))
        )

    async def cancel(self, job_id: str) -> RemoteJob:
        """``fine_tuning.jobs.cancel``."""
        return self._job(
            await self._call("the cancellation", self._client.fine_tuning.jobs.cancel(job_id))
        )

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        """``fine_tuning.jobs.list_events`` (newest first there), oldest first here."""
        page = await self._call(
            "the event list", self._client.fine_tuning.jobs.list_events(job_id, limit=100)
        )
        events = [
            {"created_at": e.created_at, "level": e.level, "message": e.message} for e in page.data
        ]
        return sorted(events, key=lambda e: e["created_at"])

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.close()


def split_model_id(model_id: str) -> tuple[str, str]:
    """``(provider, model)`` of ``provider:model`` (a bare name is an OpenAI model).

    Raises:
        InvalidInputError: a provider without a fine-tuning API, or a malformed id.
    """
    provider, sep, name = model_id.strip().partition(":")
    if not sep:
        provider, name = "openai", provider
    provider = provider.lower()
    if not name or "@" in name:
        raise InvalidInputError(
            f"model_id must be provider:model without @base_url (fine-tuning uses the "
            f"configured endpoint), got {model_id!r}"
        )
    if provider not in FINE_TUNING_PROVIDERS:
        raise InvalidInputError(
            f"provider {provider!r} has no fine-tuning API here; fine-tuning is available for: "
            f"{', '.join(FINE_TUNING_PROVIDERS)} (e.g. openai:gpt-4o-mini-2024-07-18)"
        )
    return provider, name


def check_hyperparameters(raw: Any) -> dict[str, Any]:
    """The hyperparameters, checked by name and type."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"hyperparameters must be an object, got {raw!r:.80}")
    unknown = set(raw) - HYPERPARAMETERS
    if unknown:
        raise InvalidInputError(
            f"unknown hyperparameters {sorted(unknown)}; "
            f"known: {', '.join(sorted(HYPERPARAMETERS))}"
        )
    for key, value in raw.items():
        ok = value == "auto" or (
            isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        )
        if not ok:
            raise InvalidInputError(f"hyperparameters.{key} must be 'auto' or > 0, got {value!r}")
    return dict(raw)


def _company_of(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "companies" else None


def job_dict(row: FineTuneJob) -> dict[str, Any]:
    """The provider-neutral record of a job."""
    return {
        "id": row.id,
        "provider": row.provider,
        "provider_job_id": row.provider_job_id,
        "company_id": row.company_id,
        "base_model": row.base_model,
        "dataset": row.dataset,
        "validation_dataset": row.validation_dataset,
        "status": row.status,
        "fine_tuned_model": row.fine_tuned_model,
        "hyperparameters": row.hyperparameters,
        "suffix": row.suffix,
        "trained_tokens": row.trained_tokens,
        "cost_usd": row.cost_usd,
        "error": row.error,
        "events": row.events,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


class FineTuneService:
    """Starts, follows and cancels fine-tune jobs.

    Args:
        database: where job records live.
        datasets: reads the dataset files (with the caller's workspace permissions).
        backends: builds a provider's backend.
        training_prices: USD per million trained tokens, by model-name prefix.
    """

    def __init__(
        self,
        database: Database,
        datasets: DatasetService,
        backends: BackendFactory,
        *,
        training_prices: Mapping[str, float] | None = None,
    ) -> None:
        self._database = database
        self._datasets = datasets
        self._backends = backends
        self._prices = dict(training_prices or {})

    def _files(
        self, principal: Principal, dataset: str, validation: str | None
    ) -> tuple[str, bytes, str | None, bytes | None]:
        train_path = dataset if dataset.endswith(".jsonl") else f"{dataset.rstrip('/')}/train.jsonl"
        train = self._datasets.read_bytes(principal, train_path, "dataset")
        if validation is None and not dataset.endswith(".jsonl"):
            folder_validation = f"{dataset.rstrip('/')}/validation.jsonl"
            data = self._datasets.read_bytes(principal, folder_validation, "dataset")
            return train_path, train, (folder_validation if data.strip() else None), data or None
        if validation is None:
            return train_path, train, None, None
        return (
            train_path,
            train,
            validation,
            self._datasets.read_bytes(principal, validation, "validation_dataset"),
        )

    @staticmethod
    def _method(train: bytes, hyperparameters: dict[str, Any]) -> dict[str, Any]:
        lines = [line for line in train.decode("utf-8", "replace").splitlines() if line.strip()]
        if len(lines) < MIN_EXAMPLES:
            raise InvalidInputError(
                f"the training file has {len(lines)} example(s); fine-tuning needs at least "
                f"{MIN_EXAMPLES}"
            )
        try:
            first = json.loads(lines[0])
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"the training file is not JSON lines: {error}") from error
        kind = "dpo" if isinstance(first, dict) and "preferred_output" in first else "supervised"
        if kind == "supervised" and not (isinstance(first, dict) and "messages" in first):
            raise InvalidInputError(
                'the training file must be OpenAI chat JSONL ({"messages": [...]}) or '
                "preference pairs (prepare it with format openai_chat or preference)"
            )
        if "beta" in hyperparameters and kind != "dpo":
            raise InvalidInputError("hyperparameters.beta applies to preference (dpo) data only")
        return {"type": kind, kind: {"hyperparameters": hyperparameters}}

    async def start(
        self,
        principal: Principal,
        *,
        model_id: str,
        dataset: str,
        validation_dataset: str | None = None,
        hyperparameters: Any = None,
        suffix: str | None = None,
    ) -> dict[str, Any]:
        """Upload the dataset and start a job; its record.

        Raises:
            InvalidInputError: bad model, hyperparameters or dataset.
            FineTuneError: the provider refused.
            WorkspaceError: the dataset cannot be read by ``principal``.
        """
        provider, model = split_model_id(model_id)
        params = check_hyperparameters(hyperparameters)
        if suffix is not None and (not suffix or len(suffix) > 18):
            raise InvalidInputError(f"suffix must be 1 to 18 characters, got {suffix!r}")
        train_path, train, validation_path, validation = await asyncio.to_thread(
            self._files, principal, dataset, validation_dataset
        )
        method = self._method(train, params)
        backend = self._backends(provider)
        try:
            training_file = await backend.upload(filename="train.jsonl", data=train)
            validation_file = (
                await backend.upload(filename="validation.jsonl", data=validation)
                if validation_path and validation
                else None
            )
            remote = await backend.create(
                model=model,
                training_file=training_file,
                validation_file=validation_file,
                method=method,
                suffix=suffix,
            )
        finally:
            await backend.aclose()
        return await asyncio.to_thread(
            self._insert,
            FineTuneJob(
                provider=provider,
                provider_job_id=remote.id,
                company_id=_company_of(train_path),
                base_model=f"{provider}:{model}",
                dataset=train_path,
                validation_dataset=validation_path,
                status=remote.status.value,
                hyperparameters=params,
                suffix=suffix,
                created_by=principal.name,
            ),
        )

    def _insert(self, row: FineTuneJob) -> dict[str, Any]:
        with self._database.session() as session:
            session.add(row)
            session.flush()
            return job_dict(row)

    def _row(self, job_id: int) -> FineTuneJob:
        with self._database.session() as session:
            row = session.get(FineTuneJob, job_id)
            if row is None:
                raise NotFoundError(f"no fine-tune job {job_id!r}")
            session.expunge(row)
            return row

    def list_jobs(
        self, *, company_id: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Jobs, newest first."""
        query = select(FineTuneJob).order_by(FineTuneJob.id.desc())
        if company_id is not None:
            query = query.where(FineTuneJob.company_id == company_id)
        if status is not None:
            try:
                query = query.where(FineTuneJob.status == JobStatus(status).value)
            except ValueError:
                known = ", ".join(s.value for s in JobStatus)
                raise InvalidInputError(f"unknown status {status!r}; statuses: {known}") from None
        with self._database.session() as session:
            return [job_dict(row) for row in session.scalars(query)]

    async def get(self, job_id: int, *, refresh: bool = True) -> dict[str, Any]:
        """A job's record, brought up to date from the provider while it is unfinished."""
        row = await asyncio.to_thread(self._row, job_id)
        if not refresh or JobStatus(row.status).finished:
            return job_dict(row)
        backend = self._backends(row.provider)
        try:
            remote = await backend.retrieve(row.provider_job_id)
            events = await backend.events(row.provider_job_id)
        finally:
            await backend.aclose()
        return await asyncio.to_thread(self._update, job_id, remote, events)

    async def cancel(self, job_id: int) -> dict[str, Any]:
        """Cancel an unfinished job.

        Raises:
            InvalidInputError: the job has finished.
        """
        row = await asyncio.to_thread(self._row, job_id)
        if JobStatus(row.status).finished:
            raise InvalidInputError(f"fine-tune job {job_id} has finished ({row.status})")
        backend = self._backends(row.provider)
        try:
            remote = await backend.cancel(row.provider_job_id)
        finally:
            await backend.aclose()
        return await asyncio.to_thread(self._update, job_id, remote, None)

    def _cost(self, base_model: str, tokens: int | None) -> float | None:
        name = base_model.partition(":")[2]
        prefixes = [p for p in self._prices if name.startswith(p)]
        if tokens is None or not prefixes:
            return None
        return round(tokens * self._prices[max(prefixes, key=len)] / 1_000_000, 6)

    def _update(
        self, job_id: int, remote: RemoteJob, events: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        with self._database.session(immediate=True) as session:
            row = session.get(FineTuneJob, job_id)
            if row is None:
                raise NotFoundError(f"no fine-tune job {job_id!r}")
            was = JobStatus(row.status)
            row.status = remote.status.value
            row.fine_tuned_model = remote.fine_tuned_model or row.fine_tuned_model
            row.trained_tokens = remote.trained_tokens or row.trained_tokens
            row.cost_usd = self._cost(row.base_model, row.trained_tokens)
            row.error = remote.error or row.error
            if events is not None:
                row.events = events
            now = datetime.now(UTC)
            row.updated_at = now
            if remote.status.finished and not was.finished:
                row.finished_at = now
                self._emit(session, row)
            session.flush()
            return job_dict(row)

    @staticmethod
    def _emit(session: Any, row: FineTuneJob) -> None:
        kind = {
            JobStatus.SUCCEEDED: EventType.FINE_TUNE_SUCCEEDED,
            JobStatus.FAILED: EventType.FINE_TUNE_FAILED,
        }.get(JobStatus(row.status))
        if kind is None:
            return
        emit(
            session,
            kind,
            company_id=row.company_id,
            data={
                "job_id": row.id,
                "provider_job_id": row.provider_job_id,
                "base_model": row.base_model,
                "fine_tuned_model": row.fine_tuned_model,
                "error": row.error,
                "cost_usd": row.cost_usd,
            },
            actor=row.created_by,
        )

    def active_ids(self) -> list[int]:
        """Ids of the unfinished jobs."""
        done = [s.value for s in JobStatus if s.finished]
        with self._database.session() as session:
            query = select(FineTuneJob.id).where(FineTuneJob.status.not_in(done))
            return list(session.scalars(query.order_by(FineTuneJob.id)))

    async def refresh_active(self) -> int:
        """Poll every unfinished job once; how many were polled (a failing one is logged)."""
        ids = await asyncio.to_thread(self.active_ids)
        for job_id in ids:
            try:
                await self.get(job_id)
            except ServiceError as error:
                log.warning("fine-tune job %s: %s", job_id, error)
        return len(ids)


async def track(service: FineTuneService, stop: asyncio.Event, *, interval: float) -> None:
    """Poll unfinished jobs every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        await service.refresh_active()
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            continue
