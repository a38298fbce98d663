"""The ``code`` tool: run a program in the sandbox (seed 000, "Code Execution Tools").

A thin adapter over :class:`masterai.sandbox.CodeExecutionEnvironment`. Input files are read
from the workspace and output files written back to it, both through the same path resolver
that confines the filesystem tool, so a program's files never leave the workspace. The
registry's policy checks ``language``, ``timeout`` and ``memory`` against the caller's
``ToolPermissions.code_execution`` before this tool runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from ai_tool.filesystem import FilesystemPathResolver
from masterai.sandbox import (
    LANGUAGES,
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    ExecutionResult,
    SandboxError,
)
from masterai.tools.adapter import tool_result

NAME = "code"
_PREVIEW = 4000
"""Characters of each output stream shown to the model; the full text is in ``data``."""
_MAX_INPUT_FILES = 20


class CodeTool(AITool):
    """Run Python, JavaScript, TypeScript, SQL, R or Bash in the sandbox."""

    def __init__(self, environment: CodeExecutionEnvironment, workspace: Path) -> None:
        super().__init__()
        self._environment = environment
        self._paths = FilesystemPathResolver(workspace)

    def get_definition(self) -> AIToolDefinition:
        """The tool definition built from the operations."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "Run a program in an isolated sandbox with no network, limited time, memory "
                "and CPU. Workspace files can be given as inputs; files the program writes "
                "to its working directory can be saved back to the workspace."
            ),
            additional_parameters=[
                AIToolParameter("language", "string", "Program language", enum=sorted(LANGUAGES)),
                AIToolParameter("code", "string", "Source text of the program"),
                AIToolParameter("timeout", "number", "Wall-clock seconds", required=False),
                AIToolParameter(
                    "memory", "string", "Memory limit such as '256m' (swap counted)", False
                ),
                AIToolParameter("stdin", "string", "Standard input of the program", False),
                AIToolParameter(
                    "input_files",
                    "array",
                    "Workspace paths copied into the program's working directory (by name)",
                    required=False,
                    items=AIToolParameter("path", "string", "Workspace path"),
                ),
                AIToolParameter(
                    "output_dir",
                    "string",
                    "Workspace directory where the program's output files are saved",
                    required=False,
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
                allowed_parameters={
                    "language",
                    "code",
                    "timeout",
                    "memory",
                    "stdin",
                    "input_files",
                    "output_dir",
                },
                required_parameters={"language", "code"},
                description="Run a program in the sandbox and return its output and files",
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

    async def _execute_code(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        args = tool_call.arguments
        files = self._read_inputs(args.get("input_files") or [])
        output_dir: str = args.get("output_dir") or ""
        target = self._paths.resolve(output_dir, key="output_dir") if output_dir else None
        request = CodeExecutionRequest(
            code=args["code"],
            language=args["language"],
            timeout=args.get("timeout"),
            memory=args.get("memory"),
            stdin=args.get("stdin"),
            files=files,
        )
        try:
            result = await self._environment.execute_code(request)
        except SandboxError as e:
            raise AIToolExecutionError(str(e)) from e
        saved = self._save_outputs(result, target, output_dir) if target is not None else []
        return tool_result(tool_call, _summary(result, saved), _data(result, saved))

    async def _list_languages(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        names = sorted(LANGUAGES)
        return tool_result(tool_call, f"Languages: {', '.join(names)}", names)

    def _read_inputs(self, paths: list[str]) -> dict[str, bytes]:
        if len(paths) > _MAX_INPUT_FILES:
            raise AIToolExecutionError(
                f"'input_files' lists {len(paths)} files; at most {_MAX_INPUT_FILES} are allowed"
            )
        files: dict[str, bytes] = {}
        for i, path in enumerate(paths):
            real = self._paths.resolve(path, key=f"input_files[{i}]")
            if not real.is_file():
                raise AIToolExecutionError(f"input file {path!r} is not a file in the workspace")
            if real.name in files:
                raise AIToolExecutionError(f"two input files are named {real.name!r}")
            files[real.name] = real.read_bytes()
        return files

    def _save_outputs(self, result: ExecutionResult, target: Path, shown: str) -> list[str]:
        target.mkdir(parents=True, exist_ok=True)
        saved = []
        for name, content in sorted(result.files.items()):
            # Names come from inside the sandbox: resolve each under the target again.
            relative = f"{shown.rstrip('/')}/{name}"
            path = self._paths.resolve(relative, key="output file")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            saved.append(relative)
        return saved


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
    if saved:
        parts.append(f"Saved to the workspace: {', '.join(saved)}")
    elif result.files:
        parts.append(f"Output files (not saved): {', '.join(sorted(result.files))}")
    return "\n".join(parts)


def _preview(text: str) -> str:
    if len(text) <= _PREVIEW:
        return text
    return text[:_PREVIEW] + f"\n... ({len(text) - _PREVIEW} more characters)"


def _data(result: ExecutionResult, saved: list[str]) -> dict[str, Any]:
    return {
        "output": result.output,
        "error": result.error,
        "exit_code": result.exit_code,
        "execution_time": round(result.execution_time, 4),
        "timed_out": result.timed_out,
        "memory_exceeded": result.memory_exceeded,
        "output_truncated": result.output_truncated,
        "files": {name: len(content) for name, content in sorted(result.files.items())},
        "saved": saved,
    }
