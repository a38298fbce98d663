"""The Chat page: conversations, streamed answers, plans to approve, reject, skip, comment.

It drives the HTTP API's chat (:class:`masterai.api.chat.Chat`: one agent turn per request,
plans stored while they wait) as the logged-in user from the browser's address, so plan
steps run through the registry exactly as over ``/api/v1/chat``. A browser with script asks
for the Server-Sent Events stream (``Accept: text/event-stream``, read by ``console.js``);
without script the console reads the stream itself and answers with the conversation page.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.responses import StreamingResponse

from masterai.agent import Feedback
from masterai.api.chat import Chat
from masterai.api.common import ApiError
from masterai.api.console.core import Console, ConsoleUser
from masterai.api.models import ChatRequest, PlanModel
from masterai.llm import LLMConfigurationError
from masterai.store.models.agent import AgentConversation, AgentMessage

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONVERSATIONS_SHOWN = 30
_MUTATING_CONFIGURATION = frozenset(
    {
        "update_prompt",
        "update_configuration",
        "apply_to_multiple_companies",
        "clone_configuration",
        "apply_template",
        "rollback",
    }
)
"""Configuration operations whose step can be previewed as a diff (their ``dry_run``)."""


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One message of a conversation, with the plan its answer came from."""

    role: str
    content: str
    plan: PlanModel | None = None


def _conversations(console: Console, name: str) -> list[AgentConversation]:
    with console.platform.database.session() as s:
        rows = s.scalars(
            select(AgentConversation)
            .where(AgentConversation.principal == name)
            .order_by(AgentConversation.updated_at.desc())
            .limit(CONVERSATIONS_SHOWN)
        ).all()
        s.expunge_all()
        return list(rows)


Row = tuple[str, str, str | None]
"""role, content, plan id"""


def _messages(console: Console, name: str, conversation_id: str) -> list[Row]:
    with console.platform.database.session() as s:
        owner = s.get(AgentConversation, conversation_id)
        if owner is None or owner.principal != name:
            return []
        rows = s.scalars(
            select(AgentMessage)
            .where(AgentMessage.conversation_id == conversation_id)
            .order_by(AgentMessage.seq)
        ).all()
        return [(r.role, r.content, r.plan_id) for r in rows]


async def _answer_of(stream: AsyncIterable[bytes | str | memoryview]) -> dict[str, Any]:
    """The ``done`` (or ``error``) event of a chat stream, read to its end."""
    text = ""
    async for chunk in stream:
        text += chunk if isinstance(chunk, str) else bytes(chunk).decode()
    last: dict[str, Any] = {}
    for block in text.split("\n\n"):
        lines = block.splitlines()
        event = next((x[6:].strip() for x in lines if x.startswith("event:")), "")
        data = "\n".join(x[5:].lstrip() for x in lines if x.startswith("data:"))
        if event in ("done", "error") and data:
            last = {"event": event, **json.loads(data)}
    return last


class ChatPages:
    """The chat handlers over one console (and one :class:`Chat`, its model client)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.chat = console.chat or Chat(console.api)

    def _unavailable(self) -> str | None:
        try:
            self.chat.model()
        except LLMConfigurationError as e:
            return f"Chat is not available: {e}"
        return None

    async def _stream(self, request: Request, start: Any, back: str) -> Response:
        """Stream for script; for a plain form post, read the stream and go ``back``."""
        try:
            stream: StreamingResponse = await start
        except ApiError as e:
            if "text/event-stream" in request.headers.get("accept", ""):
                raise HTTPException(status_code=e.code, detail=e.message) from e
            return RedirectResponse(f"{back}&error={e.status}", status_code=303)
        if "text/event-stream" in request.headers.get("accept", ""):
            return stream
        answer = await _answer_of(stream.body_iterator)
        conversation = answer.get("conversation_id")
        if isinstance(conversation, str) and _ID.fullmatch(conversation):
            return RedirectResponse(f"/chat?conversation={conversation}", status_code=303)
        return RedirectResponse(back, status_code=303)

    async def page(
        self, request: Request, conversation: str | None = None, error: str | None = None
    ) -> HTMLResponse:
        """The conversations, one conversation's messages and plans, the message box."""
        user = await self.console.user(request)
        if conversation is not None and not _ID.fullmatch(conversation):
            conversation = None
        conversations = await asyncio.to_thread(_conversations, self.console, user.name)
        turns = await self._turns(user, conversation) if conversation else []
        waiting = await asyncio.to_thread(self.chat.plans.waiting, user.principal)
        return self.console.render(
            request,
            "chat.html",
            user,
            conversations=conversations,
            conversation=conversation,
            turns=turns,
            waiting=[p for p in waiting if p.conversation_id != conversation],
            unavailable=self._unavailable(),
            error=error,
        )

    async def _turns(self, user: ConsoleUser, conversation: str) -> list[Turn]:
        rows = await asyncio.to_thread(_messages, self.console, user.name, conversation)
        turns = []
        shown: set[str] = set()
        for role, content, plan_id in rows:
            plan = None
            if plan_id and plan_id not in shown:
                shown.add(plan_id)
                try:
                    plan = await asyncio.to_thread(self.chat.plans.show, user.principal, plan_id)
                except ApiError:
                    plan = None
            turns.append(Turn(role=role, content=content, plan=plan))
        return turns

    async def send(self, request: Request) -> Response:
        """One turn: the message, answered by a stream (or a redirect without script)."""
        user = await self.console.user(request)
        form = await self.console.form(request, user)
        message = str(form.get("message") or "")
        conversation = form.get("conversation_id") or None
        if conversation is not None and not (
            isinstance(conversation, str) and _ID.fullmatch(conversation)
        ):
            raise HTTPException(status_code=400, detail="bad conversation id")
        back = f"/chat?conversation={conversation}" if conversation else "/chat?"
        if not message.strip():
            return RedirectResponse(f"{back}&error=empty", status_code=303)
        body = ChatRequest(message=message[:20_000], conversation_id=conversation)
        return await self._stream(request, self.chat.turn(request, user.principal, body), back)

    async def decide(self, plan_id: str, request: Request) -> Response:
        """Approve (streamed), reject, or give feedback on a waiting plan."""
        user = await self.console.user(request)
        form = await self.console.form(request, user)
        if not _ID.fullmatch(plan_id):
            raise HTTPException(status_code=404, detail="no such plan")
        decision = form.get("decision")
        note = str(form.get("note") or "").strip()[:2000] or None
        conversation = str(form.get("conversation_id") or "")
        back = f"/chat?conversation={conversation}" if _ID.fullmatch(conversation) else "/chat?"
        plans = self.chat.plans
        if decision == "approve":
            start = plans.approve(request, user.principal, plan_id)
            return await self._stream(request, start, back)
        if decision in ("proceed", "stop"):
            feedback = Feedback(proceed=decision == "proceed", note=note)
            start = plans.feedback(request, user.principal, plan_id, feedback)
            return await self._stream(request, start, back)
        if decision == "reject":
            try:
                await plans.reject(request, user.principal, plan_id, note)
            except ApiError as e:
                return RedirectResponse(f"{back}&error={e.status}", status_code=303)
            return RedirectResponse(back, status_code=303)
        raise HTTPException(status_code=400, detail=f"Unknown decision {decision!r}")

    async def skip(self, plan_id: str, position: int, request: Request) -> Response:
        """Skip one step of a waiting plan."""
        user = await self.console.user(request)
        form = await self.console.form(request, user)
        conversation = str(form.get("conversation_id") or "")
        back = f"/chat?conversation={conversation}" if _ID.fullmatch(conversation) else "/chat?"
        try:
            await asyncio.to_thread(self.chat.plans.skip, user.principal, plan_id, position)
        except ApiError as e:
            return RedirectResponse(f"{back}&error={e.status}", status_code=303)
        return RedirectResponse(back, status_code=303)

    async def preview(self, plan_id: str, position: int, request: Request) -> HTMLResponse:
        """The diff a configuration step would make (its dry run, as the user)."""
        user = await self.console.user(request)
        await self.console.form(request, user)
        try:
            plan = await asyncio.to_thread(self.chat.plans.show, user.principal, plan_id)
        except ApiError as e:
            raise HTTPException(status_code=e.code, detail=e.message) from e
        step = next((s for s in plan.steps if s.position == position), None)
        if (
            step is None
            or step.tool != "configuration"
            or (step.operation not in _MUTATING_CONFIGURATION)
        ):
            raise HTTPException(status_code=404, detail="no configuration step to preview")
        params = {"operation": step.operation, **step.arguments, "dry_run": True}
        result = await self.console.call(request, user, "configuration", params)
        return self.console.render(request, "result.html", user, result=result)


def router(console: Console) -> APIRouter:
    """``/chat`` and the decisions on its plans."""
    pages = ChatPages(console)
    console.pages.add("chat")
    routes = APIRouter(include_in_schema=False)
    routes.add_api_route("/chat", pages.page, methods=["GET"])
    routes.add_api_route("/chat/send", pages.send, methods=["POST"])
    routes.add_api_route("/chat/plans/{plan_id}/decide", pages.decide, methods=["POST"])
    routes.add_api_route(
        "/chat/plans/{plan_id}/steps/{position}/skip", pages.skip, methods=["POST"]
    )
    routes.add_api_route(
        "/chat/plans/{plan_id}/steps/{position}/preview", pages.preview, methods=["POST"]
    )
    return routes
