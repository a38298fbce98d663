"""The AI playground: a company's configuration answering a conversation, with the trace.

A *setup* is what the playground talks to: a stored version of a company's configuration
(the active one by default) or an unsaved *draft*, that is changes over such a version
(:func:`masterai.services.configs.validate_changes`, merged the way a saved change would be).
:meth:`PlaygroundService.simulate` sends a conversation to a setup and returns every reply
with its trace: the exact request the model got (system prompt, messages, settings, the
documents retrieved from the company's collection when the configuration turns RAG on), the
model's response, tokens, latency, cost and the *monitors* that would have fired on it.
:meth:`PlaygroundService.replay` does the same with the customer's turns of a stored
conversation and puts the original and new replies side by side.

Nothing here writes: no conversation, message or analytics row is created, so a playground
run never shows up in the company's reports. The registry audits each call.

RAG: a configuration whose ``settings.rag`` is ``{"collection"?, "top_k"?}`` or ``true``
retrieves passages from the company's collection exactly as ``test_configuration`` does
(:func:`masterai.services.rag.context_setting`, :meth:`RagService.context`): the customer's
message is the query and the passages join the system prompt.

Monitors: the assertions of the company's newest stored test suite (``code.
generate_test_cases``) that apply to a reply: every case from the prompt's rules
(``source: configuration``) and the cases whose input is the customer's message. Rubric
assertions need a judge model and are not checked here. The company's active realtime custom
tools (docs/alerts.md) run on every reply too (:func:`custom_tool_monitors`): as the *calling*
principal, within its code-execution limits and only where it could call the tool itself (the
tool's scope and the ``custom`` category), each in the sandbox; a result ``{"alert": true,
...}`` is a monitor of source ``custom_tool`` that fired. Nothing is stored as an alert. The
playground call is the one audited registry call; the tools run inside it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from masterai.llm import LLMEgressError, LLMError, Message, Model, ModelRequest, ModelResponse
from masterai.llm.evaluation import AssertionSpec, EvaluationInputError, TestCase, check
from masterai.llm.evaluation import parse_test_cases as _parse_cases
from masterai.llm.types import ResponseComplete, TextDelta
from masterai.security import Principal, ToolAction, decide
from masterai.services.alerts import realtime_arguments
from masterai.services.configs import (
    ConfigurationService,
    FieldChange,
    Fields,
    diff_fields,
    merge,
    validate_changes,
)
from masterai.services.custom_tools import (
    CATEGORY,
    CustomToolAccessDenied,
    CustomToolNotFound,
    CustomToolRunner,
    may_call,
)
from masterai.services.custom_tools.runner import RealtimeTool
from masterai.services.errors import InvalidInputError, NotFoundError
from masterai.services.rag import ContextSetting, RetrievedContext, context_setting
from masterai.services.scripts.suites import TestSuiteService
from masterai.store import Database
from masterai.store.models import Conversation
from masterai.store.models import Message as StoredMessage

MAX_TURNS = 40
MAX_MESSAGE_CHARS = 20_000
_ESCALATION = re.compile(
    r"\b(?:human|real person|representative|specialist|live agent|escalat\w*|transfer\w*|"
    r"support team|colleague)\b",
    re.IGNORECASE,
)


def offers_escalation(text: str) -> bool:
    """Whether a reply offers to hand the customer to a person (by its wording)."""
    return _ESCALATION.search(text) is not None


# --- what the playground talks to ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Setup:
    """A configuration the playground talks to: a stored version, or a draft over one."""

    company_id: str
    base_version: int
    """The stored version (a draft's base)."""
    draft: bool
    fields: Fields
    """provider, model, system_prompt, temperature, max_tokens, settings."""
    changes: list[FieldChange] = field(default_factory=list)
    """What a draft changes on its base (empty for a stored version)."""
    diff: str = ""

    @property
    def label(self) -> str:
        """``acme v3`` or ``acme draft over v3``."""
        kind = f"draft over v{self.base_version}" if self.draft else f"v{self.base_version}"
        return f"{self.company_id} {kind}"

    def model_spec(self) -> str:
        """``provider:model[@base_url]`` of this setup.

        Raises:
            InvalidInputError: the configuration names no provider or model.
        """
        provider, model = self.fields.get("provider"), self.fields.get("model")
        if not provider or not model:
            raise InvalidInputError(f"{self.label} names no provider/model to talk to")
        base_url = (self.fields.get("settings") or {}).get("base_url")
        return f"{provider}:{model}" + (f"@{base_url}" if base_url else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "label": self.label,
            "company_id": self.company_id,
            "base_version": self.base_version,
            "draft": self.draft,
            "fields": self.fields,
            "changes": [c.__dict__ for c in self.changes],
            "diff": self.diff,
        }


Retriever = Callable[[str, str, ContextSetting], Awaitable[RetrievedContext]]
"""``(company_id, query, setting) -> passages`` of the company's collection."""


# --- monitors ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Monitor:
    """One check on a reply, and whether it fired (its assertion failed)."""

    name: str
    source: str
    """``test_suite`` or ``custom_tool``."""
    check: str
    """What it checks, e.g. ``not_contains 'refund'``."""
    fired: bool
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class MonitorCase:
    """A stored test case whose assertions watch replies."""

    name: str
    applies_always: bool
    """A rule of the prompt: it holds for every reply, whatever the question."""
    case: TestCase


CustomToolMonitors = Callable[[str, str, str], Awaitable[list[Monitor]]]
"""``(company_id, customer_message, reply) -> monitors`` of the company's custom tools."""


async def no_custom_tool_monitors(company_id: str, message: str, reply: str) -> list[Monitor]:
    """No custom tool monitors (a caller that is not a known principal)."""
    return []


def custom_tool_monitors(runner: CustomToolRunner, principal: Principal) -> CustomToolMonitors:
    """The company's active realtime custom tools as monitors of a reply, run as ``principal``.

    Each tool runs once per reply in the sandbox under ``principal``'s code-execution limits,
    with the arguments a realtime run gets (``id``, ``seq`` and ``conversation_id`` are null:
    the reply is not stored). A tool ``principal`` could not call itself is listed as not run,
    with the reason; a run that fails is listed with its error. Nothing is stored.
    """

    async def monitors(company_id: str, message: str, reply: str) -> list[Monitor]:
        tools = await asyncio.to_thread(runner.active_realtime_tools, company_id)
        return [await _realtime_monitor(runner, principal, t, company_id, reply) for t in tools]

    return monitors


async def _realtime_monitor(
    runner: CustomToolRunner, principal: Principal, tool: RealtimeTool, company_id: str, reply: str
) -> Monitor:
    def result(fired: bool, reason: str | None) -> Monitor:
        check = f"realtime custom tool v{tool.version}"
        return Monitor(
            name=tool.name, source="custom_tool", check=check, fired=fired, reason=reason
        )

    try:
        spec, _, owner = await asyncio.to_thread(runner.active_spec, tool.name)
    except CustomToolNotFound:
        return result(False, "not run: disabled meanwhile")
    if not may_call(principal, owner, spec):
        return result(False, f"not run: {principal.name!r} may not call {tool.name!r}")
    # What the registry would check were the caller to call the tool on this company.
    action = ToolAction(
        tool=tool.name, category=CATEGORY, operation=None, read_only=True, company_id=company_id
    )
    decision = decide(principal, action)
    if not decision.allowed:
        return result(False, f"not run: {decision.reason}")
    record = {
        "id": None,
        "role": "assistant",
        "content": reply,
        "seq": None,
        "created_at": datetime.now(UTC).isoformat(),
        "model": None,
        "conversation_id": None,
    }
    try:
        [outcome] = await runner.run(
            spec,
            [realtime_arguments(company_id, record)],
            principal=principal,
            name=tool.name,
            company_id=company_id,
        )
    except CustomToolAccessDenied as e:
        return result(False, f"not run: {e}")
    if not outcome.ok:
        return result(False, f"failed: {outcome.error}")
    value = outcome.value
    if isinstance(value, dict) and value.get("alert") is True:
        return result(True, str(value.get("message") or f"{tool.name} raised an alert"))
    return result(False, None)


def _describe(assertion: AssertionSpec) -> str:
    if assertion.type == "json_schema":
        return "json_schema"
    return f"{assertion.type} {assertion.value!r}"


async def _suite_monitors(cases: Sequence[MonitorCase], message: str, reply: str) -> list[Monitor]:
    asked = message.strip().casefold()
    monitors = []
    for entry in cases:
        if not (entry.applies_always or entry.case.input.strip().casefold() == asked):
            continue
        for assertion in entry.case.assertions:
            if assertion.type == "rubric":
                continue  # needs a judge model: test_configuration checks those
            reason = await check(assertion, entry.case, reply, None)
            monitors.append(
                Monitor(
                    name=entry.name,
                    source="test_suite",
                    check=_describe(assertion),
                    fired=reason is not None,
                    reason=reason,
                )
            )
    return monitors


# --- the conversation -------------------------------------------------------------------


ReplySink = Callable[[int, str], None]
"""Receives ``(turn, text)`` pieces of a reply while it streams."""

_SINK: ContextVar[ReplySink | None] = ContextVar("playground_reply_sink", default=None)


@contextmanager
def streaming_to(sink: ReplySink) -> Iterator[None]:
    """Stream the replies of playground calls made inside this block to ``sink``.

    A face (the console) sets it around its registry call; the call itself, its checks and
    its audit are unchanged, only the reply text also arrives piece by piece.
    """
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One message of the conversation sent to the playground."""

    role: str
    """``user`` (the customer) or ``assistant`` (a reply kept as history)."""
    content: str


def parse_messages(raw: Any) -> list[Turn]:
    """The conversation: customer messages (strings) or ``{role, content}`` objects.

    Every customer message that no assistant message follows gets a reply.

    Raises:
        InvalidInputError: naming the first bad message.
    """
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"messages must be a non-empty list, got {raw!r:.200}")
    if len(raw) > MAX_TURNS:
        raise InvalidInputError(f"messages has {len(raw)} entries; at most {MAX_TURNS}")
    turns = []
    for index, item in enumerate(raw):
        role, content = ("user", item) if isinstance(item, str) else _role_content(item, index)
        if not isinstance(content, str) or not content.strip():
            raise InvalidInputError(f"messages[{index}] must be non-empty text, got {item!r:.120}")
        if len(content) > MAX_MESSAGE_CHARS:
            raise InvalidInputError(
                f"messages[{index}] has {len(content)} characters; at most {MAX_MESSAGE_CHARS}"
            )
        turns.append(Turn(role=role, content=content))
    if turns[0].role != "user":
        raise InvalidInputError("messages must start with a customer (user) message")
    return turns


def _role_content(item: Any, index: int) -> tuple[str, Any]:
    if not isinstance(item, Mapping) or set(item) - {"role", "content"}:
        raise InvalidInputError(
            f"messages[{index}] must be text or {{role, content}}, got {item!r:.120}"
        )
    role = item.get("role", "user")
    if role not in ("user", "assistant"):
        raise InvalidInputError(f"messages[{index}].role must be user or assistant, got {role!r}")
    return role, item.get("content")


def _request_dict(request: ModelRequest, spec: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": spec,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "settings": dict(settings),
    }


def _response_dict(response: ModelResponse) -> dict[str, Any]:
    return {
        "text": response.text,
        "model": response.model,
        "finish_reason": response.finish_reason,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": dict(c.arguments)}
            for c in response.tool_calls
        ],
        "usage": {
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
        },
    }


async def _ask(model: Model, request: ModelRequest, turn: int) -> ModelResponse:
    sink = _SINK.get()
    if sink is None:
        return await model.complete(request)
    final: ModelResponse | None = None
    async for event in model.stream(request):
        if isinstance(event, TextDelta):
            sink(turn, event.text)
        elif isinstance(event, ResponseComplete):
            final = event.response
    if final is None:
        raise LLMError(f"{model.name} ended its stream without a response")
    return final


@dataclass(frozen=True, kw_only=True)
class Talk:
    """What one simulation needs besides the messages: model, retrieval, monitors."""

    model: Model
    retrieve: Retriever | None = None
    monitor_cases: Sequence[MonitorCase] = ()
    custom_monitors: CustomToolMonitors = no_custom_tool_monitors


async def simulate(setup: Setup, turns: Sequence[Turn], talk: Talk) -> dict[str, Any]:
    """Send ``turns`` to ``setup``; every unanswered customer message gets a traced reply.

    Raises:
        InvalidInputError: a bad ``settings.rag`` block.
        LLMEgressError: the egress guard refused the model's endpoint.
    """
    fields = setup.fields
    settings = fields.get("settings") or {}
    rag = context_setting(settings.get("rag"))
    history: list[Message] = []
    replies: list[dict[str, Any]] = []
    for index, turn in enumerate(turns):
        if turn.role == "assistant":
            history.append(Message.assistant(turn.content))
            continue
        history.append(Message.user(turn.content))
        answered = index + 1 < len(turns) and turns[index + 1].role == "assistant"
        if answered:
            continue
        reply = await _reply(setup, rag, history, turn.content, talk, len(replies))
        replies.append(reply)
        history.append(Message.assistant(reply["reply"]))
    return {"configuration": setup.to_dict(), "turns": replies, "totals": _totals(replies)}


async def _reply(
    setup: Setup,
    rag: ContextSetting | None,
    history: Sequence[Message],
    message: str,
    talk: Talk,
    number: int,
) -> dict[str, Any]:
    fields = setup.fields
    context = None
    if rag is not None and talk.retrieve is not None:
        context = await talk.retrieve(setup.company_id, message, rag)
    # the same grounding as test_configuration (masterai.llm.evaluation)
    passages = context.text if context is not None else ""
    system = "\n\n".join(p for p in (fields.get("system_prompt"), passages) if p) or None
    request = ModelRequest(
        messages=(*((Message.system(system),) if system else ()), *history),
        temperature=fields.get("temperature"),
        max_tokens=fields.get("max_tokens"),
    )
    trace: dict[str, Any] = {
        "request": _request_dict(request, setup.model_spec(), fields.get("settings") or {}),
        "retrieved": [] if context is None else context.hits,
        "rag": None if rag is None else {"collection": rag.collection, "top_k": rag.top_k},
    }
    started = time.perf_counter()
    try:
        response = await _ask(talk.model, request, number)
    except LLMEgressError:
        raise  # a refused endpoint refuses every turn: the call fails
    except LLMError as error:
        latency = round((time.perf_counter() - started) * 1000, 1)
        trace |= {"response": None, "error": str(error), "latency_ms": latency, "monitors": []}
        return {"message": message, "reply": "", "error": str(error), "trace": trace}
    latency = round((time.perf_counter() - started) * 1000, 1)
    monitors = await _suite_monitors(talk.monitor_cases, message, response.text)
    monitors += await talk.custom_monitors(setup.company_id, message, response.text)
    trace |= {
        "response": _response_dict(response),
        "error": None,
        "latency_ms": latency,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
        "cost_usd": response.cost_usd,
        "monitors": [m.__dict__ for m in monitors],
        "escalation_offered": offers_escalation(response.text),
    }
    return {"message": message, "reply": response.text, "error": None, "trace": trace}


def _totals(replies: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    traces = [r["trace"] for r in replies]
    costs = [t.get("cost_usd") for t in traces]
    return {
        "replies": len(replies),
        "input_tokens": sum(t.get("input_tokens", 0) for t in traces),
        "output_tokens": sum(t.get("output_tokens", 0) for t in traces),
        "latency_ms": round(sum(t.get("latency_ms", 0.0) for t in traces), 1),
        "cost_usd": None if None in costs else round(sum(c or 0.0 for c in costs), 6),
        "monitors_fired": sum(1 for t in traces for m in t["monitors"] if m["fired"]),
    }


# --- stored conversations ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StoredTurn:
    """A customer message of a stored conversation and the reply it got then."""

    message: str
    reply: str
    cost_usd: float
    model: str | None


@dataclass(frozen=True, kw_only=True)
class StoredConversation:
    """A company's real conversation, as the playground replays it."""

    id: str
    company_id: str
    config_version: int | None
    escalated: bool
    turns: list[StoredTurn]


def _stored_turns(rows: Sequence[StoredMessage]) -> list[StoredTurn]:
    turns: list[StoredTurn] = []
    message: str | None = None
    replies: list[StoredMessage] = []

    def close() -> None:
        if message is not None:
            turns.append(
                StoredTurn(
                    message=message,
                    reply="\n".join(r.content for r in replies),
                    cost_usd=sum(r.cost_usd or 0.0 for r in replies),
                    model=replies[0].model if replies else None,
                )
            )

    for row in rows:
        if row.role == "user":
            close()
            message, replies = row.content, []
        elif row.role == "assistant" and message is not None:
            replies.append(row)
    close()
    return turns


# --- the service ------------------------------------------------------------------------


class PlaygroundService:
    """Resolves setups, stored conversations and monitor cases; runs simulations.

    Args:
        database: The store (read only).
        configs: The configuration versions.
        runner: Runs the company's realtime custom tools on replies (``None``: they do not).
    """

    def __init__(
        self,
        database: Database,
        configs: ConfigurationService,
        *,
        runner: CustomToolRunner | None = None,
    ) -> None:
        self.database = database
        self.configs = configs
        self.suites = TestSuiteService(database)
        self.runner = runner

    def custom_monitors(self, caller: Any) -> CustomToolMonitors:
        """The realtime custom tools' monitors, run as ``caller`` (none for a non-principal)."""
        if self.runner is None or not isinstance(caller, Principal):
            return no_custom_tool_monitors
        return custom_tool_monitors(self.runner, caller)

    def setup(self, company_id: str, version: int | None = None, draft: Any = None) -> Setup:
        """A stored version (active by default), or ``draft`` changes over it.

        A draft that changes nothing is the stored version itself.

        Raises:
            NotFoundError: no such company or version.
            InvalidInputError: a bad draft.
        """
        base = self.configs.get_configuration(company_id, version)
        if draft is None:
            return Setup(
                company_id=base.company_id,
                base_version=base.version,
                draft=False,
                fields=base.fields(),
            )
        changes = validate_changes(draft)
        fields = merge(base.fields(), changes)
        changed, diff = diff_fields(base.fields(), fields)
        if not changed:  # a draft equal to its base is that stored version
            return Setup(
                company_id=base.company_id,
                base_version=base.version,
                draft=False,
                fields=base.fields(),
            )
        return Setup(
            company_id=base.company_id,
            base_version=base.version,
            draft=True,
            fields=fields,
            changes=changed,
            diff=diff,
        )

    def monitor_cases(self, company_id: str) -> list[MonitorCase]:
        """The cases of the company's newest stored test suite (none when it has none)."""
        try:
            suite = self.suites.suite(company_id)
        except NotFoundError:
            return []
        entries = []
        for raw in suite["test_cases"]:
            try:
                (case,) = _parse_cases(
                    [{k: v for k, v in raw.items() if k in ("input", "name", "assertions")}]
                )
            except EvaluationInputError:
                continue  # a case edited into something unrunnable watches nothing
            entries.append(
                MonitorCase(
                    name=case.name or case.input[:40],
                    applies_always=raw.get("source") == "configuration",
                    case=case,
                )
            )
        return entries

    def conversation(self, company_id: str, conversation_id: str) -> StoredConversation:
        """A stored conversation of ``company_id`` with its customer turns.

        Raises:
            NotFoundError: the company has no such conversation (another company's is not
                shown either), or it has no customer message.
        """
        with self.database.session() as session:
            row = session.get(Conversation, conversation_id)
            if row is None or row.company_id != company_id:
                raise NotFoundError(
                    f"company {company_id!r} has no conversation {conversation_id!r}"
                )
            messages = session.scalars(
                sa.select(StoredMessage)
                .where(StoredMessage.conversation_id == conversation_id)
                .order_by(StoredMessage.seq)
            ).all()
            turns = _stored_turns(messages)
            if not turns:
                raise NotFoundError(f"conversation {conversation_id!r} has no customer message")
            return StoredConversation(
                id=row.id,
                company_id=row.company_id,
                config_version=row.config_version,
                escalated=row.escalated,
                turns=turns,
            )

    async def replay(
        self, conversation: StoredConversation, setup: Setup, talk: Talk
    ) -> dict[str, Any]:
        """The customer's turns of ``conversation`` answered by ``setup``, side by side.

        Raises:
            LLMEgressError: the egress guard refused the model's endpoint.
        """
        turns = [Turn(role="user", content=t.message) for t in conversation.turns]
        new = await simulate(setup, turns, talk)
        rows = []
        for old, fresh in zip(conversation.turns, new["turns"], strict=True):
            old_monitors = await _suite_monitors(talk.monitor_cases, old.message, old.reply)
            old_monitors += await talk.custom_monitors(setup.company_id, old.message, old.reply)
            rows.append(_side_by_side(old, [m.__dict__ for m in old_monitors], fresh))
        return {
            "conversation": {
                "id": conversation.id,
                "company_id": conversation.company_id,
                "config_version": conversation.config_version,
                "escalated": conversation.escalated,
            },
            "configuration": new["configuration"],
            "turns": rows,
            "totals": _replay_totals(rows, new["totals"]),
        }


def _side_by_side(
    old: StoredTurn, old_monitors: list[dict[str, Any]], fresh: Mapping[str, Any]
) -> dict[str, Any]:
    trace = fresh["trace"]
    fired_before = sorted({m["name"] for m in old_monitors if m["fired"]})
    fired_now = sorted({m["name"] for m in trace["monitors"] if m["fired"]})
    return {
        "message": old.message,
        "original": {
            "reply": old.reply,
            "length": len(old.reply),
            "escalation_offered": offers_escalation(old.reply),
            "monitors_fired": fired_before,
            "cost_usd": round(old.cost_usd, 6),
            "model": old.model,
        },
        "new": {
            "reply": fresh["reply"],
            "error": fresh["error"],
            "length": len(fresh["reply"]),
            "escalation_offered": bool(trace.get("escalation_offered")),
            "monitors_fired": fired_now,
            "cost_usd": trace.get("cost_usd"),
            "model": trace["request"]["model"],
        },
        "differences": {
            "length": len(fresh["reply"]) - len(old.reply),
            "escalation_changed": offers_escalation(old.reply)
            != bool(trace.get("escalation_offered")),
            "monitors_no_longer_firing": sorted(set(fired_before) - set(fired_now)),
            "monitors_newly_firing": sorted(set(fired_now) - set(fired_before)),
            "cost_usd": None
            if trace.get("cost_usd") is None
            else round(trace["cost_usd"] - old.cost_usd, 6),
        },
        "trace": trace,
    }


def _replay_totals(
    rows: Sequence[Mapping[str, Any]], new_totals: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "turns": len(rows),
        "original_cost_usd": round(sum(r["original"]["cost_usd"] for r in rows), 6),
        "new_cost_usd": new_totals["cost_usd"],
        "original_escalations_offered": sum(r["original"]["escalation_offered"] for r in rows),
        "new_escalations_offered": sum(r["new"]["escalation_offered"] for r in rows),
        "original_monitors_fired": sum(len(r["original"]["monitors_fired"]) for r in rows),
        "new_monitors_fired": sum(len(r["new"]["monitors_fired"]) for r in rows),
    }
