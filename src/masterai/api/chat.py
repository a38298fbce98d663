"""Chat with Master AI over HTTP: the agent's events as Server-Sent Events, plans that wait.

``POST /api/v1/chat`` streams a turn (``text``, ``plan``, ``step_started``,
``step_finished``, ``notice``, then ``done`` with the answer, or ``error``). A plan that needs
approval ends the stream with the plan ``proposed``: it is stored, and
``POST /api/v1/plans/{id}/approve`` (streamed), ``/reject``, ``/steps/{n}/skip`` and
``/feedback`` decide it in later requests, in any worker, through ``MasterAI.resume``. No
state is kept in memory between requests but the model client.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError

from masterai.agent import (
    AgentError,
    AgentEvent,
    AgentNotFoundError,
    AgentRepository,
    AgentResponse,
    Feedback,
    MasterAI,
)
from masterai.api.approvals import validation_error
from masterai.api.common import DATABASE_AWAY, Api, ApiError, BodyRefused, error_body, errors
from masterai.api.models import (
    AgentAnswer,
    ChatRequest,
    FeedbackRequest,
    PlanModel,
    RejectRequest,
)
from masterai.api.plan_views import answer_model, plan_model, step_model
from masterai.api.plans import DeferringApprover, Plans
from masterai.llm import LLMConfigurationError, LLMError, Model
from masterai.security import Principal

logger = logging.getLogger(__name__)

CHAT = "(chat)"
"""The audit's tool name of a refused chat or plan request."""

BodyModel = TypeVar("BodyModel", bound=BaseModel)


class EventStream(StreamingResponse):
    """``text/event-stream``: one ``event:``/``data:`` pair per agent event."""

    media_type = "text/event-stream"


def sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event with a JSON payload (on one line)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


EVENTS = ("text", "plan", "step_started", "step_finished", "notice", "done", "error")
"""The kinds of event a stream sends, in the order they may come; ``done`` or ``error`` last."""
STREAM_DESCRIPTION = (
    "Server-Sent Events; each event's `data` is one JSON object: `text` `{text}` (a chunk "
    "of the answer), `plan` (a `PlanModel`; `status` proposed when it waits for approval), "
    "`step_started` and `step_finished` `{plan_id, step}` (a `PlanStepModel`), `notice` "
    "`{text}`, then `done` (an `AgentAnswer`) or `error` (an `ErrorBody`)."
)
STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": STREAM_DESCRIPTION,
        "content": {
            "text/event-stream": {
                # OpenAPI 3.1: the schema of text/event-stream describes one event.
                "schema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": list(EVENTS)},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                }
            }
        },
    }
}


class Chat:
    """The agent over HTTP: one model client per process, every turn's state in the store."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.plans = Plans(self)
        self._model: Model | None = None
        self._tasks: set[asyncio.Task[AgentResponse]] = set()

    @property
    def repository(self) -> AgentRepository:
        """The agent's plans and conversations."""
        return AgentRepository(self.api.platform.database)

    def model(self) -> Model:
        """The configured model (``Platform.settings``), built on first use.

        Raises:
            LLMConfigurationError: no model configured, or its configuration is unusable.
        """
        if self._model is None:
            from masterai.llm import build_model

            self._model = build_model(self.api.platform.settings)
        return self._model

    def available_model(self) -> Model:
        """:meth:`model`, or a 503 saying how to configure one."""
        try:
            return self.model()
        except LLMConfigurationError as e:
            raise ApiError("unavailable", f"Chat is not available: {e}", 503) from e

    async def turn(self, request: Request, principal: Principal, body: ChatRequest) -> EventStream:
        """One chat turn of ``principal``, streamed."""
        if body.conversation_id is not None:
            owner = await asyncio.to_thread(
                self.repository.conversation_principal, body.conversation_id
            )
            if owner is not None and owner != principal.name:
                raise ApiError(
                    "not_found",
                    f"No conversation {body.conversation_id!r} of {principal.name!r}",
                    404,
                )
        context = self.api.context(request, principal, company_id=body.company_id)
        return self.stream(
            DeferringApprover(),
            lambda agent: agent.process_request(
                body.message, context, conversation_id=body.conversation_id
            ),
        )

    async def close(self) -> None:
        """Release the model client."""
        if self._model is not None:
            await self._model.aclose()
            self._model = None

    def stream(
        self, approver: DeferringApprover, run: Callable[[MasterAI], Awaitable[AgentResponse]]
    ) -> EventStream:
        """Run ``run`` on a new agent and stream its events, then ``done`` or ``error``.

        The turn runs in its own task: if the client goes away it still finishes and is
        stored (the plan can be looked at and decided later).
        """
        model = self.available_model()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def send(event: AgentEvent) -> None:
            # Encoded now: the plan and step an event carries go on changing as the turn runs.
            queue.put_nowait(self._encode(event))

        agent = self.api.platform.agent(model=model, approver=approver, on_event=send)
        task = asyncio.ensure_future(run(agent))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        task.add_done_callback(lambda _: queue.put_nowait(None))
        return EventStream(
            self._events(queue, task),
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def _events(
        self, queue: asyncio.Queue[bytes | None], task: asyncio.Task[AgentResponse]
    ) -> AsyncIterator[bytes]:
        while (event := await queue.get()) is not None:
            yield event
        try:
            response = task.result()
        except AgentError as e:
            status = "not_found" if isinstance(e, AgentNotFoundError) else "conflict"
            yield sse("error", error_body(status, str(e)))
        except LLMError as e:
            yield sse("error", error_body("failed", f"The model could not answer: {e}"))
        except (OperationalError, InterfaceError):
            yield sse("error", error_body("unavailable", DATABASE_AWAY))
        except Exception:
            # Logged by _finished; raising here would cut the stream without its last event.
            yield sse("error", error_body("failed", "internal error"))
        else:
            try:
                answer = await asyncio.to_thread(self.answer, response)
            except (OperationalError, InterfaceError):
                yield sse("error", error_body("unavailable", DATABASE_AWAY))
                return
            yield sse("done", answer.model_dump(mode="json"))

    def _finished(self, task: asyncio.Task[AgentResponse]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            if not isinstance(error, AgentError | LLMError):
                logger.error("chat turn failed", exc_info=error)

    def answer(self, response: AgentResponse) -> AgentAnswer:
        """A finished turn as the API shows it."""
        return answer_model(response, self.api.platform.registry, self.repository)

    def _encode(self, event: AgentEvent) -> bytes:
        registry = self.api.platform.registry
        if event.kind in ("text", "notice"):
            return sse(event.kind, {"text": event.text})
        if event.kind == "plan" and event.plan is not None:
            view = plan_model(event.plan, registry, self.repository)
            return sse("plan", view.model_dump(mode="json"))
        assert event.plan is not None and event.step is not None, event.kind
        step = step_model(event.step, registry).model_dump(mode="json")
        return sse(event.kind, {"plan_id": event.plan.id, "step": step})


async def request_body(
    api: Api, request: Request, principal: Principal, model: type[BodyModel], *, empty_ok: bool
) -> BodyModel:
    """The body as ``model``: decoded like every body, then validated (400, audited)."""
    raw = await api.raw_body(request, principal, CHAT)
    if not raw.strip() and empty_ok:
        return model()
    data = await api.body(request, principal, CHAT)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        error = validation_error(e, "request body")
        await api.refuse(request, principal, CHAT, {"_fields": sorted(data)[:20]}, error)
        raise BodyRefused(error, 400) from e


def json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body of ``model`` (read by the endpoint itself)."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": required, "content": content}}


def chat_router(chat: Chat) -> APIRouter:
    """``/chat`` and ``/plans``."""
    router = APIRouter(tags=["chat"])
    api = chat.api

    @router.post(
        "/chat",
        response_class=EventStream,
        responses={
            **STREAM_RESPONSE,
            **errors(400, 401, 404, 413, 503, _404="another user's conversation"),
        },
        openapi_extra=json_body(ChatRequest),
    )
    async def post_chat(request: Request) -> EventStream:
        """One turn with Master AI, streamed; a plan that needs approval ends it, waiting."""
        principal = await api.principal(request, CHAT)
        body = await request_body(api, request, principal, ChatRequest, empty_ok=False)
        return await chat.turn(request, principal, body)

    @router.get("/plans", response_model=list[PlanModel], responses=errors(401))
    async def list_plans(request: Request) -> list[PlanModel]:
        """The caller's plans that wait for a decision or were interrupted, newest first."""
        principal = await api.principal(request, CHAT)
        return await asyncio.to_thread(chat.plans.waiting, principal)

    @router.get(
        "/plans/{plan_id}",
        response_model=PlanModel,
        responses=errors(401, 404, _404="no such plan of the caller"),
    )
    async def get_plan(plan_id: str, request: Request) -> PlanModel:
        """A plan of the caller: its steps, their results, what it waits for, the decisions."""
        principal = await api.principal(request, CHAT)
        return await asyncio.to_thread(chat.plans.show, principal, plan_id)

    @router.post(
        "/plans/{plan_id}/approve",
        response_class=EventStream,
        responses={**STREAM_RESPONSE, **errors(401, 404, 409, 503, _404="no such plan")},
    )
    async def approve_plan(plan_id: str, request: Request) -> EventStream:
        """Approve a waiting plan and run it, streamed like ``/chat``."""
        principal = await api.principal(request, CHAT)
        return await chat.plans.approve(request, principal, plan_id)

    @router.post(
        "/plans/{plan_id}/reject",
        response_model=AgentAnswer,
        responses=errors(400, 401, 404, 409, 413, 503, _404="no such plan"),
        openapi_extra=json_body(RejectRequest, required=False),
    )
    async def reject_plan(plan_id: str, request: Request) -> AgentAnswer:
        """Reject a waiting plan: nothing more of it runs."""
        principal = await api.principal(request, CHAT)
        body = await request_body(api, request, principal, RejectRequest, empty_ok=True)
        return await chat.plans.reject(request, principal, plan_id, body.note)

    @router.post(
        "/plans/{plan_id}/steps/{position}/skip",
        response_model=PlanModel,
        responses=errors(401, 404, 409, _404="no such plan or step"),
    )
    async def skip_step(plan_id: str, position: int, request: Request) -> PlanModel:
        """Skip one step of a waiting plan before it runs."""
        principal = await api.principal(request, CHAT)
        return await asyncio.to_thread(chat.plans.skip, principal, plan_id, position)

    @router.post(
        "/plans/{plan_id}/feedback",
        response_class=EventStream,
        responses={**STREAM_RESPONSE, **errors(400, 401, 404, 409, 413, 503, _404="no such plan")},
        openapi_extra=json_body(FeedbackRequest),
    )
    async def give_feedback(plan_id: str, request: Request) -> EventStream:
        """Feedback on the step a paused plan waits on: go on (streamed) or stop, with a note."""
        principal = await api.principal(request, CHAT)
        body = await request_body(api, request, principal, FeedbackRequest, empty_ok=False)
        feedback = Feedback(proceed=body.proceed, note=body.note)
        return await chat.plans.feedback(request, principal, plan_id, feedback)

    return router
