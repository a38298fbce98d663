"""Training datasets from conversations: filter, scrub, format, validate, split, write.

A dataset is written into the company's workspace area as a new version::

    companies/<company>/datasets/<name>/v<N>/train.jsonl
    companies/<company>/datasets/<name>/v<N>/validation.jsonl
    companies/<company>/datasets/<name>/v<N>/manifest.json   (filters, counts, report)

Formats: ``openai_chat`` (one ``{"messages": [...]}`` per line), ``preference`` (OpenAI
preference pairs, only where a better answer is known: ``metadata.better_answer``) and
``generic`` (``{"id", "messages", "metadata"}``). Validation refuses a dataset with fewer
than :data:`MIN_EXAMPLES` examples; duplicates and examples longer than the target model's
context are dropped and reported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from masterai.security import Principal
from masterai.security.workspace import EntryKind, WorkspaceService
from masterai.services.aidev.scrub import Scrubber, names_in
from masterai.services.errors import InvalidInputError, NotFoundError
from masterai.store import Database
from masterai.store.models import Company, Conversation

MIN_EXAMPLES = 10
"""OpenAI's minimum for a fine-tuning file."""
ROLES = frozenset({"system", "user", "assistant"})
CONTEXT_TOKENS = {"gpt-4o-mini": 65_536, "gpt-4o": 65_536, "gpt-4.1": 65_536, "gpt-3.5": 16_385}
"""Training context per model family (longest prefix wins); others: DEFAULT_CONTEXT."""
DEFAULT_CONTEXT = 16_385
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class DatasetFormat(StrEnum):
    """The line formats a dataset can be written in."""

    OPENAI_CHAT = "openai_chat"
    PREFERENCE = "preference"
    GENERIC = "generic"


class Filters(BaseModel):
    """Which stored conversations become examples."""

    model_config = ConfigDict(extra="forbid")

    resolved: bool | None = None
    min_rating: int | None = Field(default=None, ge=1, le=5)
    not_escalated: bool = False
    date_from: date | None = None
    date_to: date | None = None
    """Inclusive."""
    topics: list[str] | None = None
    """``metadata.topic`` must be one of these."""


class GivenMessage(BaseModel):
    """One message of a conversation given in the call."""

    model_config = ConfigDict(extra="forbid")

    role: str
    content: str


class GivenConversation(BaseModel):
    """A conversation given in the call instead of stored ones."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    messages: list[GivenMessage] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Source:
    """A conversation as the dataset builder sees it."""

    id: str
    messages: tuple[tuple[str, str], ...]
    metadata: Mapping[str, Any]


def estimate_tokens(text: str) -> int:
    """A conservative token estimate (about 4 characters per token, plus per-message overhead)."""
    return len(text) // 3 + 4


def context_of(model: str | None) -> int:
    """The training context (tokens) of ``model`` (``provider:name`` or ``name``)."""
    name = (model or "").partition(":")[2] or (model or "")
    matches = [k for k in CONTEXT_TOKENS if name.startswith(k)]
    return CONTEXT_TOKENS[max(matches, key=len)] if matches else DEFAULT_CONTEXT


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']} (got {first.get('input')!r:.120})"


def parse_filters(raw: Any) -> Filters:
    """Filters from JSON-like data; raises :class:`InvalidInputError` naming the field."""
    try:
        return Filters.model_validate(raw or {})
    except ValidationError as error:
        raise InvalidInputError(f"filters.{_first_error(error)}") from error


def parse_conversations(raw: Any) -> list[Source]:
    """Conversations given in a call; raises :class:`InvalidInputError` naming the first bad one."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"conversations must be a non-empty list, got {raw!r:.120}")
    sources = []
    for index, item in enumerate(raw):
        try:
            given = GivenConversation.model_validate(item)
        except ValidationError as error:
            raise InvalidInputError(f"conversations[{index}].{_first_error(error)}") from error
        sources.append(
            Source(
                id=given.id or f"given-{index + 1}",
                messages=tuple((m.role, m.content) for m in given.messages),
                metadata=given.metadata,
            )
        )
    return sources


@dataclass(frozen=True, kw_only=True)
class DatasetRequest:
    """What to build: checked arguments of ``prepare_training_data``."""

    company_id: str
    name: str
    format: DatasetFormat
    filters: Filters
    conversations: Sequence[Source] | None = None
    validation_fraction: float = 0.2
    target_model: str | None = None


def check_request(arguments: Mapping[str, Any]) -> DatasetRequest:
    """The checked request; raises :class:`InvalidInputError` naming the bad argument."""
    raw_format = arguments.get("format", DatasetFormat.OPENAI_CHAT.value)
    try:
        fmt = DatasetFormat(raw_format)
    except ValueError:
        known = ", ".join(f.value for f in DatasetFormat)
        raise InvalidInputError(f"unknown format {raw_format!r}; formats: {known}") from None
    name = arguments.get("name") or "conversations"
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
    fraction = arguments.get("validation_fraction", 0.2)
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0 <= fraction <= 0.5
    ):
        raise InvalidInputError(f"validation_fraction must be 0 to 0.5, got {fraction!r}")
    given = arguments.get("conversations")
    return DatasetRequest(
        company_id=arguments["company_id"],
        name=name,
        format=fmt,
        filters=parse_filters(arguments.get("filters")),
        conversations=None if given is None else parse_conversations(given),
        validation_fraction=float(fraction),
        target_model=arguments.get("target_model"),
    )


def _keep(conversation: Conversation, filters: Filters) -> bool:
    if filters.resolved is not None and conversation.resolved != filters.resolved:
        return False
    if filters.min_rating is not None and (conversation.satisfaction or 0) < filters.min_rating:
        return False
    if filters.not_escalated and conversation.escalated:
        return False
    day = conversation.started_at.date()
    if filters.date_from and day < filters.date_from:
        return False
    if filters.date_to and day > filters.date_to:
        return False
    return not filters.topics or conversation.metadata_.get("topic") in filters.topics


class DatasetService:
    """Builds versioned training datasets in companies' workspace areas."""

    def __init__(self, database: Database, workspace: WorkspaceService) -> None:
        self._database = database
        self._workspace = workspace

    def stored(self, company_id: str, filters: Filters) -> list[Source]:
        """The company's conversations that pass ``filters``, oldest first."""
        with self._database.session() as session:
            if session.get(Company, company_id) is None:
                raise NotFoundError(f"unknown company {company_id!r}")
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.company_id == company_id)
                .options(selectinload(Conversation.messages))
                .order_by(Conversation.started_at, Conversation.id)
            ).all()
            return [
                Source(
                    id=c.id,
                    messages=tuple((m.role, m.content) for m in c.messages),
                    metadata=dict(c.metadata_),
                )
                for c in rows
                if _keep(c, filters)
            ]

    def prepare(self, principal: Principal, request: DatasetRequest) -> dict[str, Any]:
        """Build, validate, split and write one new dataset version; the manifest.

        Raises:
            InvalidInputError: too few valid examples (the report is in the message).
            NotFoundError: unknown company.
            WorkspaceError: the principal may not write the company's area.
        """
        sources = (
            list(request.conversations)
            if request.conversations is not None
            else self.stored(request.company_id, request.filters)
        )
        scrubber = Scrubber()
        examples, report = build_examples(sources, request, scrubber)
        if len(examples) < MIN_EXAMPLES:
            raise InvalidInputError(
                f"only {len(examples)} valid example(s) from {len(sources)} conversation(s); "
                f"fine-tuning needs at least {MIN_EXAMPLES} (report: {json.dumps(report)})"
            )
        train, validation = split(examples, request.validation_fraction)
        base = f"companies/{request.company_id}/datasets/{request.name}"
        version = self._next_version(principal, base)
        folder = f"{base}/v{version}"
        manifest = {
            "dataset": folder,
            "name": request.name,
            "version": version,
            "company_id": request.company_id,
            "format": request.format.value,
            "filters": request.filters.model_dump(mode="json", exclude_none=True),
            "source": "given" if request.conversations is not None else "stored",
            "train": {"path": f"{folder}/train.jsonl", "examples": len(train)},
            "validation": {"path": f"{folder}/validation.jsonl", "examples": len(validation)},
            "scrubbed": scrubber.report(),
            "report": report,
            "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        write = self._workspace.write_bytes
        write(principal, f"{folder}/train.jsonl", _jsonl(train), replace=False)
        write(principal, f"{folder}/validation.jsonl", _jsonl(validation), replace=False)
        # The manifest last: a version without one was interrupted and is not listed.
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        write(principal, f"{folder}/manifest.json", body, replace=False)
        return manifest

    def _next_version(self, principal: Principal, base: str) -> int:
        if not self._workspace.exists(principal, base):
            return 1
        numbers = [
            int(entry.name[1:])
            for entry in self._workspace.list_directory(principal, base)
            if re.fullmatch(r"v\d+", entry.name)
        ]
        return max(numbers, default=0) + 1

    def versions(self, principal: Principal, company_id: str) -> list[dict[str, Any]]:
        """The company's datasets, each ``{name, versions: [manifest, ...]}`` newest first.

        Only versions with a manifest are listed (one without was interrupted).

        Raises:
            WorkspaceError: the principal may not read the company's area.
        """
        base = f"companies/{company_id}/datasets"
        if not self._workspace.exists(principal, base):
            return []
        datasets = []
        for folder in self._workspace.list_directory(principal, base):
            if folder.kind is not EntryKind.DIRECTORY:
                continue
            manifests = []
            for entry in self._workspace.list_directory(principal, folder.path):
                manifest = f"{entry.path}/manifest.json"
                if not re.fullmatch(r"v\d+", entry.name):
                    continue
                if not self._workspace.exists(principal, manifest):
                    continue
                try:
                    manifests.append(json.loads(self._workspace.read_bytes(principal, manifest)))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue  # not ours: a hand-written file is not a dataset version
            manifests.sort(key=lambda m: -int(m.get("version") or 0))
            if manifests:
                datasets.append({"name": folder.name, "versions": manifests})
        return datasets

    def read_examples(self, principal: Principal, path: str) -> list[dict[str, Any]]:
        """The JSON lines of a dataset file (``.../train.jsonl``) or folder's validation split."""
        if not path.endswith(".jsonl"):
            path = path.rstrip("/") + "/validation.jsonl"
        data = self._workspace.read_bytes(principal, path, key="dataset")
        try:
            return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInputError(f"{path!r} is not JSON lines: {error}") from error

    def read_bytes(self, principal: Principal, path: str, key: str) -> bytes:
        """A dataset file's bytes (``key``: the argument it came from)."""
        return self._workspace.read_bytes(principal, path, key=key)


def _jsonl(lines: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _chat(source: Source, scrubber: Scrubber) -> list[dict[str, str]]:
    names = names_in(source.metadata)
    return [
        {"role": role, "content": scrubber.scrub(content, names)}
        for role, content in source.messages
        if role in ROLES or role == "tool"
    ]


def _line(
    source: Source, fmt: DatasetFormat, messages: list[dict[str, str]], scrubber: Scrubber
) -> dict[str, Any] | None:
    if fmt is DatasetFormat.OPENAI_CHAT:
        return {"messages": messages}
    if fmt is DatasetFormat.GENERIC:
        meta = {k: v for k, v in source.metadata.items() if k in ("topic", "language", "channel")}
        return {"id": source.id, "messages": messages, "metadata": meta}
    better = source.metadata.get("better_answer")
    if not isinstance(better, str) or not better.strip():
        return None
    names = names_in(source.metadata)
    return {
        "input": {"messages": messages[:-1]},
        "preferred_output": [{"role": "assistant", "content": scrubber.scrub(better, names)}],
        "non_preferred_output": [messages[-1]],
    }


def _role_problem(messages: list[dict[str, str]]) -> str | None:
    roles = [m["role"] for m in messages]
    if any(r not in ROLES for r in roles):
        return "roles"
    if "user" not in roles or not roles or roles[-1] != "assistant":
        return "roles"
    if any(not m["content"].strip() for m in messages):
        return "empty_message"
    return None


def build_examples(
    sources: Sequence[Source], request: DatasetRequest, scrubber: Scrubber
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The lines of the dataset and the validation report."""
    limit = context_of(request.target_model)
    dropped = {"roles": 0, "empty_message": 0, "too_long": 0, "duplicate": 0, "no_better_answer": 0}
    seen: set[str] = set()
    examples: list[dict[str, Any]] = []
    longest = 0
    for source in sources:
        messages = _chat(source, scrubber)
        problem = _role_problem(messages)
        if problem:
            dropped[problem] += 1
            continue
        tokens = sum(estimate_tokens(m["content"]) for m in messages)
        if tokens > limit:
            dropped["too_long"] += 1
            continue
        line = _line(source, request.format, messages, scrubber)
        if line is None:
            dropped["no_better_answer"] += 1
            continue
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        longest = max(longest, tokens)
        examples.append(line)
    report = {
        "conversations": len(sources),
        "examples": len(examples),
        "dropped": dropped,
        "max_example_tokens": longest,
        "context_tokens": limit,
        "min_examples": MIN_EXAMPLES,
        "valid": len(examples) >= MIN_EXAMPLES,
    }
    return examples, report


def split(
    examples: Sequence[dict[str, Any]], fraction: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A deterministic train/validation split (by content hash, so reruns agree)."""
    if fraction <= 0:
        return list(examples), []
    ranked = sorted(
        examples,
        key=lambda e: hashlib.sha256(json.dumps(e, sort_keys=True).encode()).hexdigest(),
    )
    size = max(1, round(len(examples) * fraction))
    held = {id(e) for e in ranked[:size]}
    return [e for e in examples if id(e) not in held], [e for e in examples if id(e) in held]
