"""The ``code`` tool: run a program in the sandbox (seed 000, "Code Execution Tools").

A thin adapter over :class:`masterai.sandbox.CodeExecutionEnvironment`. Input files
(``input_files``) are read from the workspace and output files saved back into it
(``output_dir``), both through :class:`masterai.security.workspace.WorkspaceService`: the
caller must be allowed to read each input and to write the output directory (checked before
the program runs), and no link is followed. Saving over existing files needs approval, as
``filesystem.write_file`` does: a call whose ``output_dir`` already holds files is approved
before it runs (:meth:`CodeTool.requires_authorization`, with the files listed by
:meth:`CodeTool.preview_call`); without that approval an output that would replace a file is
asked about when it is saved, and refused if nobody approves. A caller outside the workspace
(``masterai exec``) sends its input files inline instead (``files``, base64) and asks for the
output files' contents in the result (``include_files``). The registry's policy checks
``language``, ``timeout`` and ``memory`` against the caller's
``ToolPermissions.code_execution`` before this tool runs; ``allowed_packages`` is enforced
inside the sandbox (the run carries the caller's list, see :mod:`masterai.sandbox.packages`).

``transform_data`` runs the caller's code over data in the sandbox and ``validate_data``
checks data against a schema in-process (:mod:`masterai.services.data`); ``session`` keeps a
working directory across the caller's runs (:mod:`masterai.sandbox.sessions`). See
``docs/code-tools.md``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
from pathlib import Path
from typing import Any

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolCheckedCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolUnavailableError,
    AIToolValidationError,
)
from masterai.registry.approval import ApprovedToolCall, Preview
from masterai.sandbox import (
    BACKENDS,
    LANGUAGES,
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    CodeExecutor,
    ExecutionResult,
    InvalidRequestError,
    QueueUnavailableError,
    SandboxError,
)
from masterai.sandbox.sessions import SessionHandle, SessionStore
from masterai.security.parameters import ParameterRole
from masterai.security.permissions import allows
from masterai.security.principals import Principal
from masterai.security.workspace import Access, WorkspaceService
from masterai.services.data import transform, validation
from masterai.services.data.formats import DataFormat, format_of
from masterai.services.errors import InvalidInputError, ServiceError
from masterai.tools.adapter import tool_result
from masterai.tools.files import check_workspace_path, in_workspace, principal_of

NAME = "code"
_PREVIEW = 4000
"""Characters of each output stream shown to the model; the full text is in ``data``."""
_MAX_INPUT_FILES = 20
"""Input files of one run, workspace and inline together."""
_PREVIEW_NAMES = 20
"""Files of ``output_dir`` named in an approval request."""
_EXECUTE_PARAMETERS = {
    "language",
    "code",
    "timeout",
    "memory",
    "cpus",
    "network",
    "backend",
    "stdin",
    "files",
    "input_files",
    "output_dir",
    "include_files",
    "session",
}
_TRANSFORM_PARAMETERS = {
    "data",
    "input_file",
    "code",
    "language",
    "output",
    "timeout",
    "memory",
    "session",
}
_VALIDATE_PARAMETERS = {"data", "input_file", "schema", "max_errors"}
_MAX_DATA_FILE = 256 * 1024**2
"""Bytes of an ``input_file`` that ``validate_data`` reads."""


class CodeTool(AITool):
    """Run Python, JavaScript, TypeScript, SQL, R or Bash in the sandbox."""

    type_check_arguments = True

    def __init__(
        self,
        environment: CodeExecutionEnvironment,
        workspace: Path | WorkspaceService,
        *,
        sessions: SessionStore | None = None,
        executor: CodeExecutor | None = None,
    ) -> None:
        super().__init__()
        self._environment = environment
        # Where execute_code and transform_data runs go on the configured backend: the
        # environment itself, or the worker fleet (masterai.jobs.executions).
        self._executor: CodeExecutor = executor or environment
        self._other_environments: dict[str, CodeExecutionEnvironment] = {}
        self._files = (
            workspace if isinstance(workspace, WorkspaceService) else WorkspaceService(workspace)
        )
        settings = environment.settings
        # Default: ``sessions/`` beside the workspace (``<home>/sessions``).
        self.sessions = sessions or SessionStore(
            settings.session_dir or self._files.root.parent / "sessions",
            quota=settings.session_quota,
            ttl=settings.session_ttl,
            max_sessions=settings.max_sessions,
        )

    def get_definition(self) -> AIToolDefinition:
        """The tool definition built from the operations."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "Run a program in an isolated sandbox with no network, limited time, memory "
                "and CPU. Workspace files (or inline contents) can be given as inputs; files "
                "the program writes to its working directory can be saved back to the "
                "workspace or returned in the result."
            ),
            additional_parameters=[
                AIToolParameter(
                    "language",
                    "string",
                    "Program language",
                    enum=sorted(LANGUAGES),
                    role=ParameterRole.LANGUAGE,
                ),
                AIToolParameter(
                    "code", "string", "Source text of the program", role=ParameterRole.CODE
                ),
                AIToolParameter(
                    "timeout",
                    "number",
                    "Wall-clock seconds",
                    required=False,
                    role=ParameterRole.TIME_LIMIT,
                ),
                AIToolParameter(
                    "memory",
                    "string",
                    "Memory limit such as '256m' (swap counted)",
                    False,
                    role=ParameterRole.MEMORY_LIMIT,
                ),
                AIToolParameter("cpus", "number", "CPU quota in cores", required=False),
                AIToolParameter(
                    "network",
                    "string",
                    "Network of the program: only 'none' (sandboxed programs reach no network)",
                    required=False,
                    enum=["none"],
                    default="none",
                ),
                AIToolParameter(
                    "backend",
                    "string",
                    "Sandbox backend (default: the configured one)",
                    required=False,
                    enum=list(BACKENDS),
                    default=self._environment.backend.name,
                ),
                AIToolParameter("stdin", "string", "Standard input of the program", False),
                AIToolParameter(
                    "files",
                    "object",
                    "Input files given inline, put in the program's working directory: "
                    "plain file name -> content encoded as base64",
                    required=False,
                    # Names inside the sandbox's working directory, not workspace paths.
                    role=ParameterRole.PLAIN,
                ),
                AIToolParameter(
                    "input_files",
                    "array",
                    "Workspace paths copied into the program's working directory (by name)",
                    required=False,
                    items=AIToolParameter("path", "string", "Workspace path"),
                    role=ParameterRole.PATH,
                ),
                AIToolParameter(
                    "output_dir",
                    "string",
                    "Workspace directory where the program's output files are saved",
                    required=False,
                    role=ParameterRole.PATH,
                ),
                AIToolParameter(
                    "include_files",
                    "boolean",
                    "Return the content of every output file (base64) in the result",
                    required=False,
                    default=False,
                    role=ParameterRole.PLAIN,
                ),
                AIToolParameter(
                    "session",
                    "string",
                    "Name of a persistent working directory of yours: its files are there "
                    "when the program starts and what it leaves is kept for the next call "
                    "(files persist, processes do not)",
                    required=False,
                ),
                AIToolParameter(
                    "data",
                    "any",
                    "Data given inline (any JSON value; rows as a list of objects)",
                    required=False,
                ),
                AIToolParameter(
                    "input_file",
                    "string",
                    "Workspace file holding the data (.json, .jsonl, .csv or .parquet)",
                    required=False,
                    role=ParameterRole.PATH,
                ),
                AIToolParameter(
                    "output",
                    "string",
                    "Workspace file the result is written to (.json, .jsonl, .csv, .parquet)",
                    required=False,
                    role=ParameterRole.PATH,
                ),
                AIToolParameter(
                    "schema",
                    "object",
                    "JSON Schema (draft 2020-12) for JSON data, or a table schema "
                    "{'columns': {name: {type, required, unique, minimum, maximum, pattern, "
                    "enum, min_length, max_length}}, 'additional_columns': bool} for tables",
                    required=False,
                ),
                AIToolParameter(
                    "max_errors",
                    "integer",
                    "Errors listed at most (all are counted)",
                    required=False,
                    default=validation.DEFAULT_MAX_ERRORS,
                ),
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """``execute_code`` and ``list_languages``."""
        return {
            "execute_code": AIToolOperationDefinition(
                name="execute_code",
                handler=self._execute_code,
                extract_context=lambda args: f"{args.get('language')} program",
                allowed_parameters=set(_EXECUTE_PARAMETERS),
                required_parameters={"language", "code"},
                description="Run a program in the sandbox and return its output and files",
            ),
            "transform_data": AIToolOperationDefinition(
                name="transform_data",
                handler=self._transform_data,
                extract_context=lambda args: f"{args.get('language') or 'python'} transform",
                allowed_parameters=set(_TRANSFORM_PARAMETERS),
                required_parameters={"code"},
                description="Run code over data in the sandbox ('data' or 'input_file'; "
                "Python gets `data` as parsed JSON or a pandas DataFrame, JavaScript as an "
                "object); what it assigns to `result` or prints comes back as JSON, or is "
                "written to 'output'",
            ),
            "validate_data": AIToolOperationDefinition(
                name="validate_data",
                handler=self._validate_data,
                extract_context=lambda args: "data validation",
                allowed_parameters=set(_VALIDATE_PARAMETERS),
                required_parameters={"schema"},
                description="Check data ('data' or 'input_file') against a JSON Schema (JSON, "
                "JSONL) or a table schema (CSV, Parquet): valid, and every error with its "
                "path, row and column",
                read_only=True,
            ),
            "list_sessions": AIToolOperationDefinition(
                name="list_sessions",
                handler=self._list_sessions,
                extract_context=None,
                allowed_parameters=set(),
                required_parameters=set(),
                description="List your persistent sessions (files, size, expiry)",
                read_only=True,
            ),
            "delete_session": AIToolOperationDefinition(
                name="delete_session",
                handler=self._delete_session,
                extract_context=lambda args: f"session {args.get('session')!r}",
                allowed_parameters={"session"},
                required_parameters={"session"},
                description="Delete one of your persistent sessions and its files",
                destructive=True,
            ),
            "list_languages": AIToolOperationDefinition(
                name="list_languages",
                handler=self._list_languages,
                extract_context=None,
                allowed_parameters=set(),
                required_parameters=set(),
                description="List the languages the sandbox runs",
                read_only=True,
            ),
        }

    def requires_authorization(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> bool:
        """Ask before a run whose ``output_dir`` already holds files: they may be replaced."""
        output_dir = arguments.get("output_dir")
        if operation.name == "execute_code" and isinstance(output_dir, str):
            return self._files.has_entries(output_dir)
        return operation.destructive

    async def preview_call(self, checked: AIToolCheckedCall, requester_ref: Any) -> Preview:
        """What an approved run may replace: the files already in its ``output_dir``.

        Raises:
            AIToolAuthorizationDenied: the caller may not write ``output_dir``.
            AIToolExecutionError: ``output_dir`` cannot be listed.
        """
        args = checked.arguments
        text = f"Run a {args.get('language')} program in the sandbox"
        output_dir = args.get("output_dir")
        if checked.operation.name != "execute_code" or not isinstance(output_dir, str):
            return Preview(text=text)
        principal = principal_of(requester_ref)
        names = await in_workspace(self._present, principal, output_dir)
        shown = ", ".join(names[:_PREVIEW_NAMES])
        if len(names) > _PREVIEW_NAMES:
            shown += f" and {len(names) - _PREVIEW_NAMES} more"
        return Preview(
            text=f"{text} and save its output files into {output_dir!r}, replacing files of "
            f"the same name. Already there: {shown or 'nothing'}"
        )

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Refuse malformed workspace paths before anything runs."""
        for i, path in enumerate(arguments.get("input_files") or []):
            check_workspace_path(self._files, path, f"input_files[{i}]")
        for key in ("output_dir", "input_file", "output"):
            if key in arguments:
                check_workspace_path(self._files, arguments[key], key)
        if "session" in arguments:
            try:
                SessionStore.check_name(arguments["session"])
            except InvalidRequestError as e:
                raise AIToolValidationError(str(e), "session") from e
        for key in ("input_file", "output"):
            if isinstance(arguments.get(key), str):
                try:
                    format_of(arguments[key], key)
                except InvalidInputError as e:
                    raise AIToolValidationError(str(e), key) from e
        data_operation = operation.name in ("transform_data", "validate_data")
        if data_operation and ("data" in arguments) == ("input_file" in arguments):
            raise AIToolValidationError(
                f"{operation.name} needs exactly one of 'data' and 'input_file'", "data"
            )

    async def _execute_code(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        args = tool_call.arguments
        paths: list[str] = args.get("input_files") or []
        output_dir: str | None = args.get("output_dir")
        # Workspace files need a principal allowed to use them, checked before anything runs.
        principal = principal_of(requester_ref) if paths or output_dir else None
        files = await self._input_files(principal, args.get("files") or {}, paths)
        if principal is not None and output_dir is not None:
            await in_workspace(
                self._files.check_directory, principal, output_dir, Access.WRITE, key="output_dir"
            )
        request = CodeExecutionRequest(
            code=args["code"],
            language=args["language"],
            timeout=args.get("timeout"),
            memory=args.get("memory"),
            cpus=args.get("cpus"),
            network=args.get("network") or "none",
            stdin=args.get("stdin"),
            files=files,
            allowed_packages=allowed_packages(requester_ref),
            session=await self._session(requester_ref, args.get("session")),
        )
        result = await self._run_request(request, args.get("backend"))
        saved: list[str] = []
        if principal is not None and output_dir is not None:
            saved = await self._save_outputs(
                principal, result, output_dir, tool_call, request_authorization
            )
        data = _data(result, saved, include_files=bool(args.get("include_files")))
        return tool_result(tool_call, _summary(result, saved), data)

    async def _run_request(
        self, request: CodeExecutionRequest, backend: str | None
    ) -> ExecutionResult:
        environment = self.environment_for(backend)
        runner = self._executor if environment is self._environment else environment
        try:
            return await runner.execute_code(request)
        except InvalidRequestError as e:
            # Refused before anything ran: a malformed or too large value (the caller's own
            # limits were checked by the policy already).
            raise AIToolValidationError(str(e)) from e
        except QueueUnavailableError as e:
            raise AIToolUnavailableError(str(e)) from e
        except SandboxError as e:
            raise AIToolExecutionError(str(e)) from e

    async def _session(self, requester_ref: Any, name: str | None) -> SessionHandle | None:
        """The caller's session ``name`` (opened, or created), or ``None`` without a name."""
        if name is None:
            return None
        principal = principal_of(requester_ref)
        try:
            return await asyncio.to_thread(self.sessions.open, principal.name, name)
        except InvalidRequestError as e:
            raise AIToolValidationError(str(e), "session") from e

    async def _read_data(
        self, requester_ref: Any, args: dict[str, Any], max_bytes: int
    ) -> tuple[Any, bytes | None, DataFormat]:
        """(inline data, file content, format) of a data operation."""
        path = args.get("input_file")
        if path is None:
            return args.get("data"), None, DataFormat.JSON
        principal = principal_of(requester_ref)
        content = await in_workspace(
            self._files.read_bytes, principal, path, max_bytes=max_bytes, key="input_file"
        )
        return None, content, format_of(path, "input_file")

    async def _transform_data(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        args = tool_call.arguments
        language = args.get("language") or "python"
        _check_language(requester_ref, language)
        output: str | None = args.get("output")
        output_format = format_of(output, "output") if output else None
        if output is not None:
            principal = principal_of(requester_ref)
            await in_workspace(
                self._files.check, principal, self._files.parse(output, key="output"), Access.WRITE
            )
        data, content, input_format = await self._read_data(
            requester_ref, args, self._environment.settings.max_storage
        )
        try:
            request = transform.build_request(
                language=language,
                code=args["code"],
                data=data,
                content=content,
                input_format=input_format,
                output_format=output_format or DataFormat.JSON,
                allowed_packages=allowed_packages(requester_ref),
                session=await self._session(requester_ref, args.get("session")),
                timeout=args.get("timeout"),
                memory=args.get("memory"),
            )
        except InvalidInputError as e:
            raise AIToolValidationError(str(e), "language") from e
        result = await self._run_request(request, None)
        try:
            produced = transform.read_output(result, output_format)
        except ServiceError as e:
            raise AIToolExecutionError(str(e)) from e
        saved = None
        if output is not None and produced.content is not None:
            saved = await self._save_targets(
                principal_of(requester_ref),
                {output: produced.content},
                tool_call,
                request_authorization,
            )
        data_out: dict[str, Any] = {
            "result": produced.value if output is None else None,
            "source": produced.source,
            "output": output,
            "saved": saved or [],
            "stdout": result.output,
            "stderr": result.error,
            "execution_time": round(result.execution_time, 6),
        }
        if result.session_error:
            data_out["session_error"] = result.session_error
        summary = (
            f"Transformed; written to {output}."
            if output
            else f"Transformed ({produced.source}): {_preview(json.dumps(produced.value))}"
        )
        return tool_result(tool_call, summary, data_out)

    async def _validate_data(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        args = tool_call.arguments
        data, content, fmt = await self._read_data(requester_ref, args, _MAX_DATA_FILE)
        try:
            report = await asyncio.to_thread(
                validation.validate,
                schema=args["schema"],
                data=data,
                content=content,
                fmt=fmt,
                max_errors=max(1, int(args.get("max_errors") or validation.DEFAULT_MAX_ERRORS)),
            )
        except InvalidInputError as e:
            raise AIToolValidationError(str(e), "schema") from e
        if report["valid"]:
            summary = f"Valid: {report['rows']} rows checked."
        else:
            counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
            summary = (
                f"Invalid: {report['error_count']} errors in {report['rows']} rows ({counts})."
            )
        return tool_result(tool_call, summary, report)

    async def _list_sessions(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        principal = principal_of(requester_ref)
        infos = await asyncio.to_thread(self.sessions.list, principal.name)
        rows = [dataclasses.asdict(info) for info in infos]
        names = ", ".join(info.name for info in infos) or "none"
        return tool_result(tool_call, f"Sessions: {names}", rows)

    async def _delete_session(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        principal = principal_of(requester_ref)
        name = tool_call.arguments["session"]
        if not await asyncio.to_thread(self.sessions.delete, principal.name, name):
            raise AIToolExecutionError(f"No session named {name!r}")
        return tool_result(tool_call, f"Deleted session {name!r}", {"deleted": name})

    def environment_for(self, backend: str | None) -> CodeExecutionEnvironment:
        """The environment that runs on ``backend`` (``None``: the configured one).

        The configured backend is served by the environment the tool was built with; another
        backend gets an environment of its own, built on first use and kept for later calls.
        """
        if backend is None or backend == self._environment.backend.name:
            return self._environment
        if backend not in self._other_environments:
            self._other_environments[backend] = CodeExecutionEnvironment(
                self._environment.settings, backend=backend
            )
        return self._other_environments[backend]

    def close(self) -> None:
        """Close every environment this tool runs on (each stays usable after closing)."""
        for environment in [self._environment, *self._other_environments.values()]:
            environment.close()

    async def _list_languages(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        names = sorted(LANGUAGES)
        return tool_result(tool_call, f"Languages: {', '.join(names)}", names)

    async def _input_files(
        self, principal: Principal | None, inline: dict[str, Any], paths: list[str]
    ) -> dict[str, bytes]:
        """The run's input files: inline ones (``files``) and workspace ones (``input_files``)."""
        decoded = _decode_files(inline)
        if len(decoded) + len(paths) > _MAX_INPUT_FILES:
            raise AIToolValidationError(
                f"{len(decoded) + len(paths)} input files ('files' and 'input_files'); at most "
                f"{_MAX_INPUT_FILES} are allowed",
                "files" if decoded else "input_files",
            )
        files = await in_workspace(self._read_inputs, principal, paths) if paths else {}
        clash = sorted(decoded.keys() & files.keys())
        if clash:
            raise AIToolValidationError(
                f"two input files are named {clash[0]!r} (in 'files' and 'input_files')", "files"
            )
        return {**files, **decoded}

    def _read_inputs(self, principal: Principal, paths: list[str]) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for i, path in enumerate(paths):
            key = f"input_files[{i}]"
            name = self._files.parse(path, key=key).name
            if name in files:
                raise AIToolExecutionError(f"two input files are named {name!r}")
            # Nothing larger than a run's largest working directory could be copied into it.
            limit = self._environment.settings.max_storage
            files[name] = self._files.read_bytes(principal, path, max_bytes=limit, key=key)
        return files

    def _present(self, principal: Principal, output_dir: str) -> list[str]:
        """Names already in ``output_dir`` (none if it does not exist yet)."""
        self._files.check_directory(principal, output_dir, Access.WRITE, key="output_dir")
        if not self._files.exists(principal, output_dir, key="output_dir"):
            return []
        return [e.name for e in self._files.list_directory(principal, output_dir)]

    async def _save_outputs(
        self,
        principal: Principal,
        result: ExecutionResult,
        output_dir: str,
        tool_call: AIToolCall,
        ask: AIToolAuthorizationCallback,
    ) -> list[str]:
        """Save the output files under ``output_dir``; replacing a file needs approval.

        A call approved before it ran (its ``output_dir`` held files) may replace; otherwise
        the approver is asked now, naming the files, and a refusal saves nothing.
        """
        base = self._files.parse(output_dir, key="output_dir").text
        # Names come from inside the sandbox: each is checked again as a workspace path.
        targets = {f"{base}/{name}": data for name, data in sorted(result.files.items())}
        return await self._save_targets(principal, targets, tool_call, ask)

    async def _save_targets(
        self,
        principal: Principal,
        targets: dict[str, bytes],
        tool_call: AIToolCall,
        ask: AIToolAuthorizationCallback,
    ) -> list[str]:
        """Write ``targets`` (workspace path -> content); replacing a file needs approval."""
        operation = tool_call.arguments.get("operation", "execute_code")
        approved = isinstance(tool_call, ApprovedToolCall) and tool_call.approval is not None
        if targets and not approved:
            existing = await in_workspace(self._existing, principal, list(targets))
            if existing:
                shown = ", ".join(repr(p) for p in existing)
                reason = "The code tool wants to save the program's output over existing files"
                if not await ask(NAME, tool_call.arguments, reason, f"Replaces {shown}", True):
                    raise AIToolAuthorizationDenied(
                        f"Authorization denied for code {operation}: "
                        f"saving the output would replace {shown}"
                    )
                approved = True
        await in_workspace(self._write_outputs, principal, targets, approved)
        return list(targets)

    def _existing(self, principal: Principal, paths: list[str]) -> list[str]:
        return [p for p in paths if self._files.exists(principal, p, key="output file")]

    def _write_outputs(
        self, principal: Principal, targets: dict[str, bytes], replace: bool
    ) -> None:
        for path, data in targets.items():
            self._files.write_bytes(principal, path, data, replace=replace, key="output file")


def allowed_packages(requester_ref: Any) -> list[str] | None:
    """The packages a caller's programs may import (``None``: not a principal, no limit).

    Calls through the registry always carry a principal, so their runs are always guarded.
    """
    if not isinstance(requester_ref, Principal):
        return None
    return sorted(requester_ref.permissions.code_execution.allowed_packages)


def _check_language(requester_ref: Any, language: str) -> None:
    """An operation whose ``language`` defaults: the default must be allowed too."""
    if isinstance(requester_ref, Principal):
        languages = requester_ref.permissions.code_execution.languages
        if not allows(languages, language):
            allowed = ", ".join(sorted(languages)) or "none"
            raise AIToolAuthorizationDenied(
                f"language {language!r} is not allowed. Allowed: {allowed}"
            )


def _decode_files(files: dict[str, Any]) -> dict[str, bytes]:
    """The inline input files, ``name -> base64`` decoded (names are checked by the sandbox)."""
    decoded: dict[str, bytes] = {}
    for name, content in files.items():
        try:
            if not isinstance(content, str):
                raise TypeError(type(content).__name__)
            decoded[name] = base64.b64decode(content, validate=True)
        except (TypeError, binascii.Error) as e:
            raise AIToolValidationError(
                f"'files.{name}' must be the file's content encoded as base64 ({e})",
                f"files.{name}",
            ) from e
    return decoded


def _summary(result: ExecutionResult, saved: list[str]) -> str:
    if result.timed_out:
        status = f"timed out after {result.execution_time:.1f}s"
    elif result.memory_exceeded:
        status = "killed: memory limit exceeded"
    else:
        status = f"exit code {result.exit_code} in {result.execution_time:.2f}s"
    parts = [f"Program {status}."]
    if result.output:
        parts.append(f"stdout:\n{_preview(result.output)}")
    if result.error:
        parts.append(f"stderr:\n{_preview(result.error)}")
    if result.session_error:
        parts.append(f"Warning: {result.session_error}")
    if saved:
        parts.append(f"Saved to the workspace: {', '.join(saved)}")
    elif result.files:
        parts.append(f"Output files (not saved): {', '.join(sorted(result.files))}")
    return "\n".join(parts)


def _preview(text: str) -> str:
    if len(text) <= _PREVIEW:
        return text
    return text[:_PREVIEW] + f"\n... ({len(text) - _PREVIEW} more characters)"


def _data(result: ExecutionResult, saved: list[str], *, include_files: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "output": result.output,
        "error": result.error,
        "exit_code": result.exit_code,
        "execution_time": round(result.execution_time, 6),
        "timed_out": result.timed_out,
        "memory_exceeded": result.memory_exceeded,
        "output_truncated": result.output_truncated,
        "files": {name: len(content) for name, content in sorted(result.files.items())},
        "saved": saved,
        "backend": result.backend,
        "language": result.language,
    }
    if result.session_error:
        data["session_error"] = result.session_error
    if include_files:
        # A list, not a name-keyed object: a file called 'token.txt' is not a secret, but as
        # a key its content would be redacted as one (see masterai.security.redaction).
        data["file_contents"] = [
            {"name": name, "content_base64": base64.b64encode(content).decode("ascii")}
            for name, content in sorted(result.files.items())
        ]
    return data
