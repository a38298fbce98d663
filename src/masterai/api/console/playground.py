"""The Playground page: talk to a company's AI as a customer would, without touching production.

A chat pane answered by a draft (the form beside it: base version, provider, model,
temperature, max tokens, system prompt, settings) and, optionally, a second column answered by
another stored version. Every reply is a ``configuration.simulate_conversation`` call as the
logged-in user; a browser with script gets it as Server-Sent Events (``text`` pieces while the
model streams, then ``done`` with the rendered trace), read by ``playground.js``. "Replay"
answers a stored conversation from the failures list with the draft
(``replay_conversation``); "Save draft as new version" is the normal approved
``update_configuration`` with its diff.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.responses import StreamingResponse

from masterai.api.console.approval import call_with_approval
from masterai.api.console.configs import companies_of
from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.registry import ToolResult

MAX_CONVERSATION = 40
FAILURE_CHOICES = 20


class FormError(ValueError):
    """A playground form field is malformed; the message names it."""


def draft_of(form: Mapping[str, Any]) -> dict[str, Any]:
    """The draft (every configuration field) the configuration form describes.

    Raises:
        FormError: naming the bad field.
    """
    draft: dict[str, Any] = {}
    for name in ("provider", "model", "system_prompt"):
        value = str(form.get(name) or "")
        if value.strip():
            draft[name] = value.strip() if name != "system_prompt" else value
    for name, kind in (("temperature", float), ("max_tokens", int)):
        text = str(form.get(name) or "").strip()
        if text:
            try:
                draft[name] = kind(text)
            except ValueError:
                raise FormError(f"{name} must be a number, got {text!r}") from None
    raw = str(form.get("settings") or "").strip()
    if raw:
        try:
            settings = json.loads(raw)
        except json.JSONDecodeError as e:
            raise FormError(f"settings is not valid JSON: {e.msg}") from None
        if not isinstance(settings, dict):
            raise FormError("settings must be a JSON object")
        draft["settings"] = settings
    return draft


def _version(form: Mapping[str, Any], name: str) -> int | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise FormError(f"{name} must be a version number, got {text!r}") from None


def _messages(form: Mapping[str, Any]) -> list[Any]:
    try:
        messages = json.loads(str(form.get("messages") or "[]"))
    except json.JSONDecodeError as e:
        raise FormError(f"messages is not valid JSON: {e.msg}") from None
    message = str(form.get("message") or "").strip()
    if not isinstance(messages, list):
        raise FormError("messages must be a JSON list")
    if message:
        messages.append({"role": "user", "content": message[:20_000]})
    return messages[-MAX_CONVERSATION:]


def simulate_params(company: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The ``simulate_conversation`` call one column of the chat pane asks for.

    The ``draft`` column sends the form's fields as a draft over the base ``version``; the
    ``compare`` column asks the stored ``compare_version`` as it is.
    """
    params: dict[str, Any] = {
        "operation": "simulate_conversation",
        "company_id": company,
        "messages": _messages(form),
    }
    if form.get("column") == "compare":
        params["version"] = _version(form, "compare_version")
        if params["version"] is None:
            raise FormError("choose a version to compare with")
        return params
    version = _version(form, "version")
    if version is not None:
        params["version"] = version
    draft = draft_of(form)
    if draft:  # a form without configuration fields (no script) talks to the version
        params["draft"] = draft
    return params


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


class PlaygroundPages:
    """The playground handlers over one console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def _call(
        self, request: Request, user: ConsoleUser, operation: str, **params: Any
    ) -> ToolResult:
        return await self.console.call(
            request, user, "configuration", {"operation": operation, **params}
        )

    async def index(self, request: Request) -> HTMLResponse:
        """Pick a company."""
        user = await self.console.user(request)
        companies = await companies_of(self.console, request, user)
        return self.console.render(
            request, "playground.html", user, companies=companies, company=None
        )

    async def page(
        self, company: str, request: Request, version: int | None = None
    ) -> HTMLResponse:
        """The chat pane, the draft form (from ``version``, default active), replay, save."""
        user = await self.console.user(request)
        companies = await companies_of(self.console, request, user)
        versions = await self._call(request, user, "list_versions", company_id=company)
        params: dict[str, Any] = {"company_id": company}
        if version is not None:
            params["version"] = version
        base = await self._call(request, user, "get_configuration", **params)
        if not (versions.ok and base.ok):
            return self.console.render(
                request,
                "playground.html",
                user,
                status_code=404 if (versions.status == "invalid") else 403,
                companies=companies,
                company=company,
                error=versions.error or base.error,
            )
        return self.console.render(
            request,
            "playground.html",
            user,
            companies=companies,
            company=company,
            error=None,
            versions=structured(versions),
            base=structured(base),
            failures=await self._failures(request, user, company),
            may_save=user.may("configuration", "update_configuration"),
        )

    async def _failures(
        self, request: Request, user: ConsoleUser, company: str
    ) -> list[dict[str, Any]]:
        """Conversations from the failures list (one per conversation), to replay."""
        if not user.may("analytics", "identify_failures"):
            return []
        result = await self.console.call(
            request,
            user,
            "analytics",
            {"operation": "identify_failures", "company_id": company, "examples": 5},
        )
        if not result.ok:
            return []
        chosen: dict[str, dict[str, Any]] = {}
        for group in structured(result).get("groups", []):
            for example in group.get("examples", []):
                key = example["conversation_id"]
                if key not in chosen and len(chosen) < FAILURE_CHOICES:
                    chosen[key] = {
                        "id": key,
                        "kind": group["label"],
                        "message": (example.get("user_message") or "")[:80],
                    }
        return list(chosen.values())

    async def simulate(self, company: str, request: Request) -> Response:
        """One column's reply: streamed as SSE for script, else the reply page."""
        user = await self.console.user(request)
        form = await self.console.form(request, user)
        try:
            params = simulate_params(company, form)
        except FormError as e:
            params, problem = None, str(e)
        wants_stream = "text/event-stream" in request.headers.get("accept", "")
        if params is None:
            if wants_stream:
                return StreamingResponse(
                    iter([_event("done", {"reply": "", "error": problem, "html": ""})]),
                    media_type="text/event-stream",
                )
            return self._reply_page(request, user, None, problem)
        if not wants_stream:
            result = await self.console.call(request, user, "configuration", params)
            return self._reply_page(request, user, result, None)
        return StreamingResponse(
            self._stream(request, user, params),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def _stream(
        self, request: Request, user: ConsoleUser, params: dict[str, Any]
    ) -> AsyncIterator[str]:
        """The reply's pieces as they stream, then ``done`` with the trace."""
        # Imported here: the playground pulls in the evaluation code, which serve's start
        # does not need.
        from masterai.services.playground import streaming_to

        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        async def run() -> None:
            try:
                with streaming_to(lambda _turn, text: queue.put_nowait(("text", text))):
                    result = await self.console.call(request, user, "configuration", params)
            except BaseException:
                queue.put_nowait(("failed", None))
                raise
            queue.put_nowait(("result", result))

        task = asyncio.create_task(run())
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield _event("text", {"text": value})
                    continue
                if kind == "failed":
                    yield _event("done", {"reply": "", "error": "the call failed", "html": ""})
                else:
                    yield _event("done", self._done(request, user, value))
                break
        finally:
            if not task.done():
                task.cancel()

    def _done(self, request: Request, user: ConsoleUser, result: ToolResult) -> dict[str, Any]:
        if not result.ok:
            return {"reply": "", "error": result.error, "html": ""}
        data = structured(result)
        turn = data["turns"][-1] if data["turns"] else None
        html = self.console.templates.get_template("playground_trace.html").render(
            turn=turn, configuration=data["configuration"], audit_id=result.audit_id
        )
        return {
            "reply": turn["reply"] if turn else "",
            "error": turn["error"] if turn else None,
            "label": data["configuration"]["label"],
            "html": html,
        }

    def _reply_page(
        self, request: Request, user: ConsoleUser, result: ToolResult | None, problem: str | None
    ) -> HTMLResponse:
        data = structured(result) if result is not None and result.ok else None
        error = problem or (result.error if result is not None and not result.ok else None)
        return self.console.page(
            request,
            user,
            "page.html",
            "playground_reply.html",
            title="Playground reply",
            data=data,
            error=error,
            audit_id=result.audit_id if result is not None else None,
        )

    async def replay(self, company: str, request: Request) -> HTMLResponse:
        """A stored conversation answered by the draft, side by side with the original."""
        user = await self.console.user(request)
        form = await self.console.form(request, user)
        error, data, audit_id = None, None, None
        try:
            params: dict[str, Any] = {
                "company_id": company,
                "conversation_id": str(form.get("conversation_id") or ""),
            }
            draft = draft_of(form)
            if draft:
                params["draft"] = draft
            version = _version(form, "version")
            if version is not None:
                params["version"] = version
        except FormError as e:
            error = str(e)
        else:
            result = await self._call(request, user, "replay_conversation", **params)
            audit_id = result.audit_id
            if result.ok:
                data = structured(result)
            else:
                error = result.error
        return self.console.page(
            request,
            user,
            "page.html",
            "playground_replay.html",
            title="Replay",
            data=data,
            error=error,
            audit_id=audit_id,
        )

    async def save(self, company: str, request: Request) -> HTMLResponse:
        """Save the draft as a new version: the approved ``update_configuration``."""
        user = await self.console.user(request)
        form = await self.console.form(request, user)
        try:
            changes = draft_of(form)
        except FormError as e:
            return self._reply_page(request, user, None, str(e))
        note = str(form.get("change_note") or "").strip() or "saved from the playground"
        params = {
            "operation": "update_configuration",
            "company_id": company,
            "changes": changes,
            "change_note": note[:2000],
        }
        outcome = await call_with_approval(self.console, request, user, "configuration", params)
        return self.console.page(
            request, user, "page.html", "outcome.html", title="Save draft", outcome=outcome
        )


def router(console: Console) -> APIRouter:
    """``/playground`` and ``/playground/{company}`` with simulate, replay and save."""
    pages = PlaygroundPages(console)
    console.pages.add("playground")
    routes = APIRouter(include_in_schema=False)
    routes.add_api_route("/playground", pages.index, methods=["GET"])
    routes.add_api_route("/playground/{company}", pages.page, methods=["GET"])
    routes.add_api_route("/playground/{company}/simulate", pages.simulate, methods=["POST"])
    routes.add_api_route("/playground/{company}/replay", pages.replay, methods=["POST"])
    routes.add_api_route("/playground/{company}/save", pages.save, methods=["POST"])
    return routes
