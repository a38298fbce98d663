"""The playground operations of the ``configuration`` tool.

``simulate_conversation`` sends a conversation to a company's configuration (the active
version, an earlier ``version``, or a ``draft`` of changes over it) and returns each reply
with its trace; ``replay_conversation`` answers the customer's turns of a stored
conversation with another configuration and shows old and new replies side by side. The
logic is :mod:`masterai.services.playground`.

Both are read-only (no conversation, message or analytics row is written) but call a model:
they are in ``model_operations``, so only principals with ``model_calls.enabled`` run them
and the agent asks before it does. Models are built per call for the calling principal, as
for ``test_configuration``; the company's realtime custom tools run on each reply as the
calling principal (see :mod:`masterai.services.playground`).
"""

from __future__ import annotations

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
from masterai.llm import LLMEgressError, Model
from masterai.sandbox import CodeExecutionEnvironment
from masterai.services.configs import ConfigurationService
from masterai.services.custom_tools import CustomToolRunner
from masterai.services.errors import ServiceError
from masterai.services.playground import (
    PlaygroundService,
    Setup,
    Talk,
    parse_messages,
    simulate,
)
from masterai.services.rag import ContextSetting, RagService, RetrievedContext, build_embedder
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools.adapter import call_service, tool_result
from masterai.tools.configuration import CHANGE_FIELDS
from masterai.tools.evaluation import (
    TIMEOUT,
    CallModels,
    EvaluatingConfigurationTool,
    ModelFactory,
    with_parameters,
)

_PLAYGROUND_PARAMETERS = [
    AIToolParameter(
        "messages",
        "array",
        "The conversation: the customer's messages as strings, or {role: user|assistant, "
        "content} objects; every customer message no assistant message follows gets a reply",
        required=False,
    ),
    AIToolParameter(
        "draft",
        "object",
        "Unsaved changes over the version (default: the active one) to talk to instead",
        required=False,
        properties=CHANGE_FIELDS,
    ),
    AIToolParameter(
        "conversation_id",
        "string",
        "A stored conversation of company_id whose customer turns are replayed",
        required=False,
    ),
]


def _spent(data: dict[str, Any]) -> float:
    return float(data["totals"].get("cost_usd") or data["totals"].get("new_cost_usd") or 0.0)


class PlaygroundConfigurationTool(EvaluatingConfigurationTool):
    """The ``configuration`` tool with the evaluation and the playground operations."""

    model_operations: ClassVar[frozenset[str]] = EvaluatingConfigurationTool.model_operations | {
        "simulate_conversation",
        "replay_conversation",
    }

    def __init__(
        self,
        service: ConfigurationService,
        settings: Settings,
        database: Database,
        *,
        model_factory: ModelFactory | None = None,
        rag: RagService | None = None,
    ) -> None:
        super().__init__(service, settings, model_factory=model_factory, rag=rag)
        runner = CustomToolRunner(database, lambda: CodeExecutionEnvironment(settings))
        self._playground = PlaygroundService(database, service, runner=runner)
        self._rag = rag
        self._rag_settings = settings

    def get_definition(self) -> AIToolDefinition:
        """The configuration definition with the playground parameters."""
        return with_parameters(super().get_definition(), _PLAYGROUND_PARAMETERS)

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """The configuration operations plus the two playground operations."""
        ops = super().get_operation_definitions()
        ops["simulate_conversation"] = AIToolOperationDefinition(
            "simulate_conversation",
            self._simulate,
            None,
            {"company_id", "messages", "version", "draft"},
            {"company_id", "messages"},
            "Talk to a company's AI as a customer would, without touching production: the "
            "active configuration, an earlier version, or a draft of changes over it answers "
            "the messages; each reply comes with its trace (exact request, retrieved "
            "documents, response, tokens, latency, cost, monitors that would fire)",
            read_only=True,
            timeout=TIMEOUT,
        )
        ops["replay_conversation"] = AIToolOperationDefinition(
            "replay_conversation",
            self._replay,
            None,
            {"company_id", "conversation_id", "version", "draft"},
            {"company_id", "conversation_id"},
            "Replay the customer's turns of a stored conversation against another "
            "configuration (a version or a draft): original and new replies side by side "
            "with the differences (length, escalation offered, monitors fired, cost)",
            read_only=True,
            timeout=TIMEOUT,
        )
        return ops

    # --- what a call talks to -------------------------------------------------------------

    def _talk(self, setup: Setup, requester_ref: Any) -> Talk:
        models = CallModels.for_call(self._settings, self._model_factory, requester_ref)
        model: Model = models.get(setup.model_spec())
        return Talk(
            model=model,
            retrieve=self._retrieve,
            monitor_cases=self._playground.monitor_cases(setup.company_id),
            custom_monitors=self._playground.custom_monitors(requester_ref),
        )

    async def _retrieve(
        self, company_id: str, query: str, setting: ContextSetting
    ) -> RetrievedContext:
        """The passages ``test_configuration`` would give the model (the RAG service's API)."""
        if self._rag is None:
            self._rag = RagService.from_settings(self._rag_settings, self._playground.database)
        embedder = build_embedder(self._rag_settings)
        try:
            return await self._rag.context(
                company_id,
                query,
                collection=setting.collection,
                top_k=setting.top_k,
                embedder=embedder,
            )
        finally:
            await embedder.aclose()

    async def _setup(self, args: dict[str, Any]) -> Setup:
        return await call_service(
            self._playground.setup, args["company_id"], args.get("version"), args.get("draft")
        )

    # --- operations ----------------------------------------------------------------------

    async def _simulate(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        try:
            turns = parse_messages(args["messages"])
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error
        setup = await self._setup(args)
        talk = await call_service(self._talk_checked, setup, requester_ref)
        try:
            data = await simulate(setup, turns, talk)
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error
        except LLMEgressError as error:
            raise AIToolExecutionError(f"simulate_conversation: {error}") from error
        finally:
            await talk.model.aclose()
        return tool_result(tool_call, _simulation_summary(data), data, cost_usd=_spent(data))

    async def _replay(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        conversation = await call_service(
            self._playground.conversation, args["company_id"], args["conversation_id"]
        )
        setup = await self._setup(args)
        talk = await call_service(self._talk_checked, setup, requester_ref)
        try:
            data = await self._playground.replay(conversation, setup, talk)
        except ServiceError as error:
            raise AIToolExecutionError(str(error)) from error
        except LLMEgressError as error:
            raise AIToolExecutionError(f"replay_conversation: {error}") from error
        finally:
            await talk.model.aclose()
        return tool_result(tool_call, _replay_summary(data), data, cost_usd=_spent(data))

    def _talk_checked(self, setup: Setup, requester_ref: Any) -> Talk:
        """:meth:`_talk`, with the setup's model spec checked first (a service error)."""
        setup.model_spec()
        return self._talk(setup, requester_ref)


def _simulation_summary(data: dict[str, Any]) -> str:
    label = data["configuration"]["label"]
    lines = [f"{label}: {len(data['turns'])} replies (nothing was saved)"]
    for turn in data["turns"]:
        fired = [m["name"] for m in turn["trace"]["monitors"] if m["fired"]]
        answer = turn["reply"] if turn["error"] is None else f"(error: {turn['error']})"
        lines.append(f"> {turn['message']}\n{answer}")
        if fired:
            lines.append(f"monitors fired: {', '.join(fired)}")
    totals = data["totals"]
    cost = "unknown cost" if totals["cost_usd"] is None else f"${totals['cost_usd']:.4f}"
    lines.append(
        f"{totals['input_tokens']}+{totals['output_tokens']} tokens, {totals['latency_ms']} ms, "
        f"{cost}"
    )
    return "\n".join(lines)


def _replay_summary(data: dict[str, Any]) -> str:
    t = data["totals"]
    return (
        f"Replayed {t['turns']} customer turns of {data['conversation']['id']} on "
        f"{data['configuration']['label']} (nothing was saved): escalation offered "
        f"{t['original_escalations_offered']} -> {t['new_escalations_offered']}, monitors "
        f"fired {t['original_monitors_fired']} -> {t['new_monitors_fired']}, cost "
        f"${t['original_cost_usd']} -> "
        + ("unknown" if t["new_cost_usd"] is None else f"${t['new_cost_usd']}")
    )


__all__ = ["PlaygroundConfigurationTool"]
