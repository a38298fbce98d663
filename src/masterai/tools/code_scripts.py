"""The ``code`` tool's scripts and test-suite operations (a subclass of :class:`CodeTool`).

Scripts: ``create_script``, ``update_script`` (a new version; earlier ones are kept),
``get_script``, ``list_scripts``, ``enable_script``, ``disable_script``, ``delete_script``,
``run_script``, ``list_runs``, ``get_run``, ``cancel_run``. A run always uses the script
*owner's* permissions as they are when it starts (checked with the policy here: code execution
enabled, language allowed, limits within bounds), whoever asked for it; its record (the
ledger, :class:`masterai.services.scripts.ScriptService`) keeps who asked, the trigger, the
version, the parameters, start and end, exit code, capped output, artifacts and status, and
``script.succeeded`` / ``script.failed`` is emitted in the same commit.

A script is a program in a sandbox language, or a ``tool`` script: ``calls``, a list of
registry calls ``{"tool": ..., "args": {...}}`` made as the owner (so a nightly schedule can
run ``run_integration_tests``); such a call fails the run when it fails or when its result
reports ``failed`` cases.

Tests: ``generate_test_cases`` and ``run_integration_tests`` (see
:mod:`masterai.services.scripts.suites`); the latter runs the suite with the
``test_configuration`` machinery (:func:`masterai.llm.evaluation.run_suite`).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import jsonschema

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.llm import LLMEgressError, Message, ModelRequest, configured_model
from masterai.llm.evaluation import EvaluationInputError, parse_test_cases, run_suite
from masterai.registry import ExecutionContext, ToolResult
from masterai.sandbox import (
    LANGUAGES,
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    InvalidRequestError,
    SandboxError,
)
from masterai.security import (
    AuthenticationError,
    ParameterRole,
    Principal,
    RoleBinding,
    load_principal,
)
from masterai.security.policy import ToolAction, decide
from masterai.security.workspace import WorkspaceError, WorkspaceService
from masterai.services.configs import ConfigurationService
from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError
from masterai.services.scripts import (
    SOURCES,
    AccessDenied,
    CatchUp,
    Concurrency,
    RunClaim,
    RunStatus,
    ScheduleSpec,
    ScriptService,
    TestSuiteService,
    Trigger,
    VersionSpec,
    runnable,
)
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools.adapter import author_of, tool_result
from masterai.tools.code import CodeTool, allowed_packages
from masterai.tools.evaluation import CallModels, ModelFactory, suite_line

T = TypeVar("T")
ToolCaller = Callable[[str, dict[str, Any], ExecutionContext], Awaitable[ToolResult]]
"""Makes one registry call (``ToolRegistry.execute_tool``): how ``tool`` scripts act."""
TOOL_LANGUAGE = "tool"
MAX_TOOL_CALLS = 20


class RunCancelled(Exception):
    """The run was cancelled while it ran."""


def _p(name: str, kind: str, text: str, role: ParameterRole | None = None, **kw: Any) -> Any:
    return AIToolParameter(name, kind, text, required=False, role=role, **kw)


_PARAMETERS = [
    _p("name", "string", "Script name (letters, digits, '_', '.', '-')"),
    _p(
        "calls",
        "array",
        "Instead of code: registry calls the script makes as its owner, each "
        "{tool, args: {operation, ...}} (a 'tool' script)",
        items=AIToolParameter("call", "object", "One registry call"),
    ),
    _p("description", "string", "What the script does"),
    _p("parameters", "object", "JSON Schema (2020-12) the run parameters must satisfy"),
    _p("schedule", "string", "Cron expression ('0 2 * * *'); '' removes the schedule"),
    _p("timezone", "string", "IANA time zone of the schedule (default UTC)"),
    _p(
        "catchup",
        "string",
        "Ticks missed beyond the grace: none, latest (default) or all",
        enum=[c.value for c in CatchUp],
    ),
    _p("max_catchup", "integer", "Most missed ticks run with catchup=all (default 10)"),
    _p("misfire_grace", "number", "Seconds a tick may be late and still run (default 300)"),
    _p(
        "concurrency",
        "string",
        "A tick while a run is active: allow, forbid (default) or replace",
        enum=[c.value for c in Concurrency],
    ),
    _p(
        "company_id",
        "string",
        "The company the script (or the suite) is about",
        ParameterRole.COMPANY,
    ),
    _p("script", "string", "Script name or id"),
    _p("params", "object", "Run parameters (checked against the script's schema)"),
    _p("version", "integer", "Script version (default: the newest)"),
    _p("run_id", "integer", "A run id"),
    _p("trigger", "string", "Who asks: manual (default) or api", enum=["manual", "api"]),
    _p("limit", "integer", "Most runs listed (default 50)"),
    _p("count", "integer", "Most test cases generated (default 20)"),
    _p(
        "sources",
        "array",
        f"Where cases come from: {', '.join(SOURCES)}",
        items=AIToolParameter("source", "string", "Source", enum=list(SOURCES)),
    ),
    _p("suite", "integer", "Test-suite version (default: the newest)"),
    _p("judge_model", "string", "provider:model judging rubric assertions", ParameterRole.MODEL),
]


def _service_error(error: ServiceError) -> Exception:
    if isinstance(error, AccessDenied):
        return AIToolAuthorizationDenied(str(error))
    if isinstance(error, InvalidInputError):
        return AIToolValidationError(str(error))
    if isinstance(error, NotFoundError):
        return AIToolNotFoundError(str(error))
    return AIToolExecutionError(str(error))


async def _service(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ServiceError as error:
        raise _service_error(error) from error


def _principal(requester_ref: Any) -> Principal:
    if not isinstance(requester_ref, Principal):
        raise AIToolAuthorizationDenied("scripts need a known principal")
    return requester_ref


def _cap(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters not kept)"


def parse_tool_calls(code: str) -> list[dict[str, Any]]:
    """The registry calls of a ``tool`` script.

    Raises:
        AIToolValidationError: not JSON, or not ``{"tool": NAME, "args": {...}}`` (or a list).
    """
    try:
        value = json.loads(code)
    except json.JSONDecodeError as e:
        raise AIToolValidationError(f"a 'tool' script's code must be JSON: {e}", "code") from e
    calls = value if isinstance(value, list) else [value]
    if not calls or len(calls) > MAX_TOOL_CALLS:
        raise AIToolValidationError(f"a 'tool' script makes 1 to {MAX_TOOL_CALLS} calls", "code")
    for i, call in enumerate(calls):
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("tool"), str)
            or not isinstance(call.get("args", {}), dict)
            or set(call) - {"tool", "args"}
        ):
            raise AIToolValidationError(
                f'call {i} of the \'tool\' script must be {{"tool": NAME, "args": {{...}}}}, '
                f"got {call!r:.120}",
                "code",
            )
    return calls


class ScriptingCodeTool(CodeTool):
    """The ``code`` tool plus scripts, runs and integration tests."""

    model_operations: ClassVar[frozenset[str]] = frozenset({"run_integration_tests"})

    def __init__(
        self,
        environment: CodeExecutionEnvironment,
        workspace: Path | WorkspaceService,
        *,
        database: Database,
        settings: Settings,
        call_tool: ToolCaller | None = None,
        model_factory: ModelFactory | None = None,
        scripts: ScriptService | None = None,
        worker: str | None = None,
    ) -> None:
        super().__init__(environment, workspace)
        self._database = database
        self._settings = settings
        self._jobs = settings.jobs
        self._call_tool = call_tool
        self._model_factory = model_factory
        self.scripts = scripts or ScriptService(database)
        self.suites = TestSuiteService(database)
        self._configs = ConfigurationService(database)
        # Names the process in run attempts: a worker that died is told apart from its heir.
        self._worker = worker or f"{socket.gethostname()}:{os.getpid()}"[:128]

    def get_definition(self) -> AIToolDefinition:
        """The code definition with the scripts and tests parameters."""
        definition = super().get_definition()
        known = {p.name for p in definition.parameters}
        definition.parameters = [
            *definition.parameters,
            *(p for p in _PARAMETERS if p.name not in known),
        ]
        return definition

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """The code operations plus scripts, runs and tests."""
        ops = super().get_operation_definitions()
        limits = {"timeout", "memory"}
        schedule = {
            "schedule",
            "timezone",
            "catchup",
            "max_catchup",
            "misfire_grace",
            "concurrency",
        }

        def op(
            name: str, handler: Any, allowed: set[str], required: set[str], text: str, **kw: Any
        ) -> None:
            ops[name] = AIToolOperationDefinition(
                name, handler, None, allowed, required, text, **kw
            )

        op(
            "create_script",
            self._create,
            {"name", "code", "language", "calls", "parameters", "description", "company_id"}
            | limits
            | schedule,
            {"name"},
            "Save a script (version 1), optionally on a cron schedule in a time zone",
        )
        op(
            "update_script",
            self._update,
            {"script", "code", "language", "calls", "parameters", "description"}
            | limits
            | schedule,
            {"script"},
            "Change a script: new code, language, schema or limits make a new version",
        )
        op(
            "get_script",
            self._get,
            {"script"},
            {"script"},
            "A script: code, schedule, versions",
            read_only=True,
        )
        op(
            "list_scripts",
            self._list,
            {"company_id"},
            set(),
            "The scripts you may see",
            read_only=True,
        )
        op(
            "enable_script",
            self._enable,
            {"script"},
            {"script"},
            "Enable a script and its schedule",
            idempotent=True,
        )
        op(
            "disable_script",
            self._disable,
            {"script"},
            {"script"},
            "Disable a script: no runs, no ticks",
            idempotent=True,
        )
        op(
            "delete_script",
            self._delete,
            {"script"},
            {"script"},
            "Delete a script with its versions, schedule and runs",
            destructive=True,
        )
        op(
            "run_script",
            self._run,
            {"script", "params", "version", "run_id", "trigger"},
            set(),
            "Run a script now (with the owner's permissions) and record the run",
            timeout=self._jobs.run_timeout,
        )
        op(
            "list_runs",
            self._list_runs,
            {"script", "limit"},
            set(),
            "The newest runs",
            read_only=True,
        )
        op(
            "get_run",
            self._get_run,
            {"run_id"},
            {"run_id"},
            "One run with its output",
            read_only=True,
        )
        op(
            "cancel_run",
            self._cancel,
            {"run_id"},
            {"run_id"},
            "Cancel a queued or running run (kills its sandbox)",
        )
        op(
            "generate_test_cases",
            self._generate,
            {"company_id", "count", "sources"},
            {"company_id"},
            "Build test cases from the company's prompt rules and failed, escalated and "
            "low-rated conversations; saved as its next test-suite version",
        )
        op(
            "run_integration_tests",
            self._run_tests,
            {"company_id", "suite", "judge_model"},
            {"company_id"},
            "Run the company's test suite against its active configuration; the report "
            "(each case, difference from the previous run, cost) is stored",
            timeout=600.0,
        )
        return ops

    def requires_authorization(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> bool:
        """Only deleting a script (and overwriting output files) needs approval."""
        if operation.name == "delete_script":
            return True
        return super().requires_authorization(operation, arguments)

    # --- scripts -----------------------------------------------------------------------

    @staticmethod
    def _version_spec(args: dict[str, Any], base: dict[str, Any] | None = None) -> VersionSpec:
        base = base or {}
        language = args.get("language", base.get("language"))
        code = args.get("code", base.get("code"))
        if "calls" in args:
            if "code" in args or "language" in args:
                raise AIToolValidationError("give either calls or code and language", "calls")
            language, code = TOOL_LANGUAGE, json.dumps(args["calls"])
        if not isinstance(language, str) or (
            language not in LANGUAGES and language != TOOL_LANGUAGE
        ):
            raise AIToolValidationError(
                f"unknown language {language!r}: one of {', '.join(sorted(LANGUAGES))} or "
                f"{TOOL_LANGUAGE!r}",
                "language",
            )
        if not isinstance(code, str) or not code.strip():
            raise AIToolValidationError("code must be a non-empty program text", "code")
        if language == TOOL_LANGUAGE:
            parse_tool_calls(code)
        schema = args.get("parameters", base.get("parameters") or {})
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise AIToolValidationError(
                f"parameters is not a valid JSON Schema: {e.message}", "parameters"
            ) from e
        limits = dict(base.get("limits") or {})
        limits.update({k: args[k] for k in ("timeout", "memory") if k in args})
        return VersionSpec(language=language, code=code, parameters=schema, limits=limits)

    @staticmethod
    def _schedule_spec(args: dict[str, Any], base: dict[str, Any] | None) -> ScheduleSpec | None:
        keys = ("schedule", "timezone", "catchup", "max_catchup", "misfire_grace", "concurrency")
        if not any(k in args for k in keys):
            return None
        base = base or {}
        cron = args.get("schedule", base.get("cron"))
        if not cron:
            raise AIToolValidationError(
                "schedule options need a cron expression ('schedule')", "schedule"
            )
        return ScheduleSpec(
            cron=cron,
            timezone=args.get("timezone", base.get("timezone", "UTC")),
            catchup=CatchUp(args.get("catchup", base.get("catchup", CatchUp.LATEST))),
            max_catchup=args.get("max_catchup", base.get("max_catchup", 10)),
            misfire_grace_s=float(args.get("misfire_grace", base.get("misfire_grace", 300.0))),
            concurrency=Concurrency(
                args.get("concurrency", base.get("concurrency", Concurrency.FORBID))
            ),
        )

    async def _create(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args, principal = call.arguments, _principal(ref)
        script = await _service(
            self.scripts.create,
            principal,
            name=args["name"],
            version=self._version_spec(args),
            description=args.get("description"),
            company_id=args.get("company_id"),
            schedule=self._schedule_spec(args, None),
        )
        return tool_result(call, _script_line("Created", script), script)

    async def _update(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args, principal = call.arguments, _principal(ref)
        current = await _service(self.scripts.get, principal, args["script"])
        new_code = any(
            k in args for k in ("code", "language", "calls", "parameters", "timeout", "memory")
        )
        remove = args.get("schedule") == ""
        script = await _service(
            self.scripts.update,
            principal,
            args["script"],
            version=self._version_spec(args, current) if new_code else None,
            description=args.get("description"),
            schedule=None if remove else self._schedule_spec(args, current["schedule"]),
            remove_schedule=remove,
        )
        return tool_result(call, _script_line("Updated", script), script)

    async def _get(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        script = await _service(self.scripts.get, _principal(ref), call.arguments["script"])
        return tool_result(call, _script_line("Script", script), script)

    async def _list(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        scripts = await _service(
            self.scripts.list_scripts, _principal(ref), company_id=call.arguments.get("company_id")
        )
        lines = [_script_line("-", s) for s in scripts] or ["No scripts."]
        return tool_result(call, "\n".join(lines), scripts)

    async def _enable(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        script = await _service(
            self.scripts.set_enabled, _principal(ref), call.arguments["script"], True
        )
        return tool_result(call, _script_line("Enabled", script), script)

    async def _disable(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        script = await _service(
            self.scripts.set_enabled, _principal(ref), call.arguments["script"], False
        )
        return tool_result(call, _script_line("Disabled", script), script)

    async def _delete(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        gone = await _service(self.scripts.delete, _principal(ref), call.arguments["script"])
        return tool_result(call, f"Deleted script {gone['name']!r} with its runs.", gone)

    async def _list_runs(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        limit = args.get("limit", 50)
        if not 1 <= limit <= 1000:
            raise AIToolValidationError(f"limit must be 1 to 1000, got {limit!r}", "limit")
        runs = await _service(
            self.scripts.list_runs, _principal(ref), args.get("script"), limit=limit
        )
        lines = [_run_line(r) for r in runs] or ["No runs."]
        return tool_result(call, "\n".join(lines), runs)

    async def _get_run(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        run = await _service(self.scripts.get_run, _principal(ref), call.arguments["run_id"])
        return tool_result(call, _run_line(run), run)

    async def _cancel(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        run = await _service(self.scripts.request_cancel, _principal(ref), call.arguments["run_id"])
        state = "cancelled" if run["status"] == RunStatus.CANCELLED else "asked to stop"
        return tool_result(call, f"Run {run['id']} of {run['script']!r} {state}.", run)

    # --- running -----------------------------------------------------------------------

    async def _run(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args, principal = call.arguments, _principal(ref)
        if "run_id" in args:
            claim = await self._claim_queued(principal, args)
            if claim is None:
                run = await _service(self.scripts.get_run, principal, args["run_id"])
                return tool_result(
                    call, f"Run {run['id']} is not runnable here ({run['status']}).", run
                )
        else:
            if "script" not in args:
                raise AIToolValidationError(
                    "run_script needs 'script' (or a queued 'run_id')", "script"
                )
            claim = await self._start_now(principal, args)
        run = await self.execute_claim(claim)
        return tool_result(call, _run_line(run), run)

    async def _claim_queued(self, principal: Principal, args: dict[str, Any]) -> RunClaim | None:
        if set(args) - {"operation", "run_id"}:
            raise AIToolValidationError("a queued run (run_id) takes no other arguments", "run_id")
        current = await _service(self.scripts.get_run, principal, args["run_id"])
        script = await _service(self.scripts.get, principal, str(current["script_id"]))
        if script["owner"] != principal.name and not principal.is_super_admin:
            raise AIToolAuthorizationDenied(
                f"a queued run executes as its script's owner {script['owner']!r}, not "
                f"{principal.name!r}"
            )
        return await _service(
            self.scripts.claim_run, args["run_id"], self._worker, stale_after=self._jobs.stale_after
        )

    async def _start_now(self, principal: Principal, args: dict[str, Any]) -> RunClaim:
        info = await _service(
            self.scripts.version_of, principal, args["script"], args.get("version")
        )
        params = args.get("params") or {}
        _check_params(info["parameters"], params)
        trigger = Trigger(args.get("trigger", Trigger.MANUAL))
        run_id = await _service(
            self.scripts.start_run,
            principal.name,
            info["script_id"],
            info["version"],
            params=params,
            trigger=trigger,
            worker=self._worker,
        )
        return RunClaim(
            run_id=run_id,
            script_id=info["script_id"],
            script=info["script"],
            owner=info["owner"],
            company_id=info["company_id"],
            version=info["version"],
            language=info["language"],
            code=info["code"],
            limits=dict(info["limits"]),
            params=params,
            trigger=trigger.value,
            attempt=1,
        )

    async def execute_claim(self, claim: RunClaim) -> dict[str, Any]:
        """Run a claimed run to its end and close its record (event included)."""
        finish = self.scripts.finish_run
        try:
            owner = await asyncio.to_thread(load_principal, self._database, claim.owner)
        except AuthenticationError:
            return await asyncio.to_thread(
                finish,
                claim.run_id,
                RunStatus.FAILED,
                error=f"the owner {claim.owner!r} is not an active user",
            )
        denial = _owner_denial(owner, claim)
        if denial is not None:
            return await asyncio.to_thread(finish, claim.run_id, RunStatus.FAILED, error=denial)
        try:
            outcome = await self._supervised(claim.run_id, self._execute(owner, claim))
        except RunCancelled:
            return await asyncio.to_thread(
                finish, claim.run_id, RunStatus.CANCELLED, error="cancelled while running"
            )
        return await asyncio.to_thread(finish, claim.run_id, outcome.pop("status"), **outcome)

    async def _supervised(self, run_id: int, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Await ``work``, beating the run's heartbeat; a cancel request kills it."""
        task = asyncio.ensure_future(work)
        while True:
            done, _ = await asyncio.wait({task}, timeout=self._jobs.heartbeat)
            if done:
                return task.result()
            if await asyncio.to_thread(self.scripts.heartbeat, run_id, self._worker):
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                raise RunCancelled

    async def _execute(self, owner: Principal, claim: RunClaim) -> dict[str, Any]:
        cap = self._jobs.output_chars
        if claim.language == TOOL_LANGUAGE:
            return await self._execute_calls(owner, claim, cap)
        params = json.dumps(claim.params).encode()
        request = CodeExecutionRequest(
            code=claim.code,
            language=claim.language,
            timeout=claim.limits.get("timeout"),
            memory=claim.limits.get("memory"),
            stdin=params.decode(),
            files={"params.json": params},
            # The owner's package allow-list, enforced inside the sandbox as for execute_code.
            allowed_packages=allowed_packages(owner),
        )
        try:
            result = await self.environment_for(None).execute_code(request)
        except (InvalidRequestError, SandboxError) as e:
            return {"status": RunStatus.FAILED, "error": f"the sandbox refused the run: {e}"}
        artifacts, error = [], None
        if result.files:
            try:
                artifacts = await asyncio.to_thread(
                    self._save_artifacts, owner, claim, result.files
                )
            except WorkspaceError as e:
                error = f"artifacts not saved: {e}"
        ok = result.exit_code == 0 and not result.timed_out and not result.memory_exceeded
        if result.timed_out:
            error = f"timed out after {result.execution_time:.1f}s"
        elif result.memory_exceeded:
            error = "killed: memory limit exceeded"
        elif not ok:
            error = error or f"exit code {result.exit_code}"
        return {
            "status": RunStatus.SUCCEEDED if ok else RunStatus.FAILED,
            "exit_code": result.exit_code,
            "stdout": _cap(result.output, cap),
            "stderr": _cap(result.error, cap),
            "error": error,
            "artifacts": artifacts,
            "result": {
                "execution_time": round(result.execution_time, 3),
                "backend": result.backend,
            },
        }

    async def _execute_calls(self, owner: Principal, claim: RunClaim, cap: int) -> dict[str, Any]:
        if self._call_tool is None:
            return {"status": RunStatus.FAILED, "error": "tool scripts need a registry"}
        lines, failures, results = [], [], []
        for i, call in enumerate(parse_tool_calls(claim.code)):
            context = ExecutionContext(
                principal=owner, client_address=f"script:{claim.script}#{claim.run_id}"[:64]
            )
            result = await self._call_tool(call["tool"], dict(call.get("args") or {}), context)
            payload = result.data.get("result") if isinstance(result.data, dict) else None
            failed = payload.get("failed") if isinstance(payload, dict) else None
            summary = result.data.get("summary") if isinstance(result.data, dict) else None
            lines.append(
                f"[{i}] {call['tool']}.{result.operation}: {result.status} "
                f"{summary or result.error or ''}"
            )
            results.append(
                {"tool": call["tool"], "status": result.status, "audit_id": result.audit_id}
            )
            if not result.ok:
                failures.append(f"call {i} ({call['tool']}) {result.status}: {result.error}")
            elif isinstance(failed, int) and failed > 0:
                failures.append(f"call {i} ({call['tool']}) reported {failed} failed cases")
        return {
            "status": RunStatus.FAILED if failures else RunStatus.SUCCEEDED,
            "exit_code": 1 if failures else 0,
            "stdout": _cap("\n".join(lines), cap),
            "error": "; ".join(failures) or None,
            "result": {"calls": results},
        }

    def _save_artifacts(
        self, owner: Principal, claim: RunClaim, files: dict[str, bytes]
    ) -> list[str]:
        area = f"companies/{claim.company_id}" if claim.company_id else f"users/{claim.owner}"
        base = f"{area}/scripts/{claim.script}/runs/{claim.run_id}"
        saved = []
        for name, data in sorted(files.items()):
            path = f"{base}/{name}"
            self._files.write_bytes(owner, path, data, replace=True, key="artifact")
            saved.append(path)
        return saved

    # --- tests -------------------------------------------------------------------------

    async def _generate(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        sources = list(args.get("sources") or ["configuration", "conversations"])
        extra: list[dict[str, Any]] = []
        note = ""
        if "model" in sources:
            extra, note = await self._model_cases(args["company_id"], ref)
        suite = await _service(
            self.suites.generate,
            args["company_id"],
            count=args.get("count", 20),
            sources=sources,
            extra=extra,
            author=author_of(ref),
        )
        by_source: dict[str, int] = {}
        for case in suite["test_cases"]:
            by_source[case.get("source", "?")] = by_source.get(case.get("source", "?"), 0) + 1
        counts = ", ".join(f"{n} from {s}" for s, n in sorted(by_source.items()))
        text = (
            f"Saved test suite v{suite['version']} of {suite['company_id']!r}: "
            f"{len(suite['test_cases'])} cases ({counts}).{note}"
        )
        return tool_result(call, text, suite)

    async def _model_cases(self, company_id: str, ref: Any) -> tuple[list[dict[str, Any]], str]:
        spec = configured_model(self._settings)
        if spec is None and self._model_factory is None:
            return [], " No model is configured: the 'model' source added nothing."
        config = await _service(self._configs.get_configuration, company_id)
        models = CallModels.for_call(self._settings, self._model_factory, ref)
        model = models.get(spec or "default")
        request = ModelRequest(
            messages=(
                Message.system(
                    "You write test inputs for a customer-service assistant. Answer with a JSON "
                    "array of at most 5 short customer messages that probe the rules of this "
                    "system prompt, nothing else."
                ),
                Message.user(config.system_prompt or ""),
            ),
            temperature=0.0,
        )
        try:
            response = await model.complete(request)
        finally:
            await model.aclose()
        try:
            inputs = json.loads(response.text)
        except json.JSONDecodeError:
            return [], " The model's answer was not a JSON array: it added nothing."
        cases = [
            {
                "name": f"model:{i + 1}",
                "input": text,
                "assertions": [{"type": "regex", "value": r"\S"}],
                "source": "model",
                "reason": "suggested by the model from the prompt",
            }
            for i, text in enumerate(inputs if isinstance(inputs, list) else [])
            if isinstance(text, str) and text.strip()
        ][:5]
        return cases, ""

    async def _run_tests(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        company = args["company_id"]
        suite = await _service(self.suites.suite, company, args.get("suite"))
        try:
            cases = parse_test_cases(runnable(suite["test_cases"]))
        except EvaluationInputError as e:
            raise AIToolExecutionError(f"suite v{suite['version']}: {e}") from e
        config = await _service(self._configs.get_configuration, company)
        models = CallModels.for_call(self._settings, self._model_factory, ref)
        subject, judge = models.for_config(config), models.judge(args)
        try:
            outcome = await run_suite(subject, cases, judge=judge)
        except LLMEgressError as e:
            raise AIToolExecutionError(f"run_integration_tests: {e}") from e
        finally:
            await subject.model.aclose()
            if judge is not None:
                await judge.aclose()
        spent = sum(c.cost_usd or 0.0 for c in outcome.cases)
        report = await _service(
            self.suites.save_report,
            company,
            suite_version=suite["version"],
            config_version=config.version,
            results=[
                {"name": c.name, "passed": c.passed, "failures": list(c.failures)}
                for c in outcome.cases
            ],
            cost_usd=spent,
            run_by=author_of(ref),
        )
        diff = report["diff"]
        change = ""
        if diff.get("previous"):
            change = (
                f" Newly failing: {len(diff['newly_failing'])}, newly passing: "
                f"{len(diff['newly_passing'])}."
            )
        text = f"Report {report['id']}: " + suite_line(outcome) + "." + change
        return tool_result(call, text, report, cost_usd=spent)


def _check_params(schema: dict[str, Any], params: Any) -> None:
    if not isinstance(params, dict):
        raise AIToolValidationError(f"params must be an object, got {params!r:.80}", "params")
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(params)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise AIToolValidationError(
            f"params{'.' + where if where else ''}: {error.message}", f"params.{where}".rstrip(".")
        )


def _owner_denial(owner: Principal, claim: RunClaim) -> str | None:
    """Why the owner may not run this version now (the policy, as for ``execute_code``)."""
    if claim.language == TOOL_LANGUAGE:
        return None  # each call it makes is checked by the registry as the owner
    arguments: dict[str, Any] = {"language": claim.language, "code": claim.code}
    arguments.update({k: v for k, v in claim.limits.items() if v is not None})
    roles = [
        RoleBinding(path=("language",), role=ParameterRole.LANGUAGE),
        RoleBinding(path=("code",), role=ParameterRole.CODE),
        RoleBinding(path=("timeout",), role=ParameterRole.TIME_LIMIT),
        RoleBinding(path=("memory",), role=ParameterRole.MEMORY_LIMIT),
    ]
    decision = decide(
        owner,
        ToolAction(
            tool="code",
            category="code",
            operation="run_script",
            read_only=False,
            arguments=arguments,
            roles=roles,
            company_id=claim.company_id,
        ),
    )
    return (
        None if decision.allowed else f"the owner's permissions refuse the run: {decision.reason}"
    )


def _script_line(verb: str, script: dict[str, Any]) -> str:
    schedule = script.get("schedule")
    when = (
        f", runs '{schedule['cron']}' {schedule['timezone']} (next {schedule['next_run_at']})"
        if schedule
        else ""
    )
    state = "" if script["enabled"] else " [disabled]"
    return f"{verb} {script['name']!r} v{script['version']} ({script['language']}){when}{state}"


def _run_line(run: dict[str, Any]) -> str:
    code = f", exit {run['exit_code']}" if run.get("exit_code") is not None else ""
    error = f": {run['error']}" if run.get("error") else ""
    return (
        f"Run {run['id']} of {run['script']!r} v{run['version']} ({run['trigger']}): "
        f"{run['status']}{code}{error}"
    )
