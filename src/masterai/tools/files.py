"""The ``filesystem`` tool of Master AI: the seed's file operations over the isolated workspace.

The operations, their parameters and their texts are those of the seed's
``ai_tool.filesystem.FilesystemAITool`` (which stays as it is for library users), from one
table, ``ai_tool.filesystem.operations``; every path goes through
:class:`masterai.security.workspace.WorkspaceService`, which applies the principal's company
permissions, keeps ``users/<name>/`` private and ``shared/`` read-only for all but super
admins, and never follows a link.

Approval: ``write_file``, ``delete`` and ``move`` are destructive and ``append_to_file``
rewrites an existing file, so the registry asks before each of them
(:meth:`FilesystemTool.requires_authorization`). ``create_directory`` and ``copy_file`` never
replace anything; like the seed, they ask the approver without insisting (an approver-less
caller lets them run). Errors come back as results: a malformed path is invalid input, a
path the principal may not use is a denial, anything else a failure.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import stat
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, TypeVar

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from ai_tool.filesystem.operations import OPERATIONS, FilesystemOperation, call_context
from masterai.security.parameters import ParameterRole
from masterai.security.principals import Principal
from masterai.security.workspace import (
    ALLOWED,
    Access,
    EntryKind,
    WorkspaceAccessDenied,
    WorkspaceEntry,
    WorkspaceError,
    WorkspaceFileError,
    WorkspacePathError,
    WorkspaceService,
    as_principal,
)

NAME = "filesystem"
_PATH_KEYS = ("path", "source", "destination")
_ASKS = frozenset({"append_to_file"})
"""Not destructive, yet rewrites an existing file: asked like ``write_file``."""
T = TypeVar("T")
_Sync = Callable[[Principal, dict[str, Any]], str]


def _p(name: str, type_: str, description: str, **kw: Any) -> AIToolParameter:
    return AIToolParameter(name, type_, description, required=False, **kw)


_PARAMETERS = [
    _p(
        "path",
        "string",
        "Workspace path ('.' is the root): companies/<company id>/..., users/<your user "
        "name>/... or shared/...",
        role=ParameterRole.PATH,
    ),
    _p("content", "string", "Text to write, append, or (for search) to look for"),
    _p("encoding", "string", "Text encoding", default="utf-8"),
    _p("create_parents", "boolean", "Create missing parent directories", default=True),
    _p("recursive", "boolean", "Delete a directory and everything in it", default=False),
    _p("source", "string", "Path to move or copy from", role=ParameterRole.PATH),
    _p(
        "destination",
        "string",
        "Path to move or copy to (must not exist)",
        role=ParameterRole.PATH,
    ),
    _p("pattern", "string", "File-name glob for search, e.g. '*.py'", default="*"),
]


def tool_error(error: WorkspaceError) -> Exception:
    """The tool error for a workspace refusal: invalid, denied or failed."""
    if isinstance(error, WorkspacePathError):
        return AIToolValidationError(str(error), error.key)
    if isinstance(error, WorkspaceAccessDenied):
        return AIToolAuthorizationDenied(str(error))
    return AIToolExecutionError(str(error))


async def in_workspace(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking workspace call in a worker thread; its refusals become tool errors."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except WorkspaceError as e:
        raise tool_error(e) from e


def principal_of(requester_ref: Any) -> Principal:
    """The acting principal of a call; anything else touches no file (a denial)."""
    try:
        return as_principal(requester_ref)
    except WorkspaceError as e:
        raise tool_error(e) from e


def check_workspace_path(workspace: WorkspaceService, value: Any, key: str) -> None:
    """Refuse a malformed workspace path before anything runs (``AIToolValidationError``)."""
    try:
        workspace.parse(value, key=key)
    except WorkspacePathError as e:
        raise AIToolValidationError(str(e), key) from None


class FilesystemTool(AITool):
    """File operations in the company-isolated workspace.

    Args:
        workspace: The workspace service (its root is ``settings.workspace``).
        max_file_size: Largest file, in bytes, that may be read, written or copied.
        max_list_entries: Most entries ``list_directory`` returns.
        max_search_results: Most matches ``search`` returns.
        max_search_files: Most files ``search`` looks at before it stops.
    """

    type_check_arguments = True

    def __init__(
        self,
        workspace: WorkspaceService,
        *,
        max_file_size: int = 1_048_576,
        max_list_entries: int = 1000,
        max_search_results: int = 100,
        max_search_files: int = 10_000,
    ) -> None:
        super().__init__()
        self._workspace = workspace
        self._max_file_size = max_file_size
        self._max_list_entries = max_list_entries
        self._max_search_results = max_search_results
        self._max_search_files = max_search_files

    def get_definition(self) -> AIToolDefinition:
        """Return the ``filesystem`` definition."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "The filesystem tool reads and changes files in the workspace, which is "
                f"partitioned: {ALLOWED} (companies/ by your company permissions, users/ "
                "private to each user, shared/ readable by all and written by super admins). "
                f"Files are limited to {self._max_file_size} bytes; links are never followed."
            ),
            additional_parameters=_PARAMETERS,
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the filesystem operations (the seed's, in its order)."""
        return {spec.name: self._operation(spec) for spec in OPERATIONS}

    def requires_authorization(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> bool:
        """Ask before destructive operations and before rewriting a file by appending."""
        return operation.destructive or operation.name in _ASKS

    def _operation(self, spec: FilesystemOperation) -> AIToolOperationDefinition:
        """The definition of ``spec``, run by the tool's method of that name."""
        name = spec.name
        sync: _Sync = getattr(self, spec.method)
        # Asked by the framework or the registry: read-only ones never, the others below.
        ask = not spec.read_only and not spec.destructive and name not in _ASKS

        async def handler(
            tool_call: AIToolCall, requester_ref: Any, request_auth: AIToolAuthorizationCallback
        ) -> AIToolResult:
            principal = principal_of(requester_ref)
            if ask:
                # Nobody is asked about a call the caller may not make anyway.
                await in_workspace(self._may_write, principal, tool_call.arguments)
                reason = f"The filesystem tool wants to run '{name}'"
                context = call_context(tool_call.arguments)
                if not await request_auth(NAME, tool_call.arguments, reason, context, False):
                    raise AIToolAuthorizationDenied(f"Authorization denied for filesystem {name}")
            content = await in_workspace(sync, principal, tool_call.arguments)
            return AIToolResult(id=tool_call.id, name=NAME, content=content)

        return spec.definition(handler)

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Refuse malformed paths, an empty pattern and unknown encodings before anything runs."""
        for key in _PATH_KEYS:
            if key in arguments:
                check_workspace_path(self._workspace, arguments[key], key)
        if arguments.get("pattern") == "":
            raise AIToolValidationError(
                "'pattern' must not be empty; use '*' for every file", "pattern"
            )
        encoding = arguments.get("encoding")
        if isinstance(encoding, str):
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise AIToolValidationError(
                    f"Unknown encoding {encoding!r}; use e.g. 'utf-8' or 'latin-1'", "encoding"
                ) from None

    # --- helpers ----------------------------------------------------------------------

    def _may_write(self, principal: Principal, arguments: dict[str, Any]) -> None:
        """Refuse unless ``principal`` may write the call's ``path`` or ``destination``."""
        key = "destination" if "destination" in arguments else "path"
        target = self._workspace.parse(arguments[key], key=key)
        self._workspace.check(principal, target, Access.WRITE)

    def _encode(self, arguments: dict[str, Any]) -> bytes:
        encoding = arguments.get("encoding", "utf-8")
        try:
            data: bytes = arguments["content"].encode(encoding)
        except UnicodeEncodeError as e:
            raise AIToolExecutionError(f"Content cannot be encoded as {encoding!r}: {e}") from None
        if len(data) > self._max_file_size:
            raise AIToolExecutionError(
                f"{arguments['path']!r} would be {len(data)} bytes; the limit is "
                f"{self._max_file_size} bytes"
            )
        return data

    # --- operations (run in a worker thread) ----------------------------------------

    def _read(self, principal: Principal, arguments: dict[str, Any]) -> str:
        path = arguments["path"]
        data = self._workspace.read_bytes(principal, path, max_bytes=self._max_file_size)
        encoding = arguments.get("encoding", "utf-8")
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as e:
            raise AIToolExecutionError(
                f"{path!r} is not valid {encoding} text ({e.reason} at byte {e.start})"
            ) from None

    def _write(self, principal: Principal, arguments: dict[str, Any]) -> str:
        data = self._encode(arguments)
        create = arguments.get("create_parents", True)
        try:
            self._workspace.write_bytes(
                principal, arguments["path"], data, replace=True, create_parents=create
            )
        except WorkspaceFileError as e:
            if create or not str(e).startswith("Directory "):
                raise
            raise WorkspaceFileError(f"{e}; pass create_parents=true to create it") from e
        return f"Wrote {len(data)} bytes to {self._shown(arguments['path'])}"

    def _append(self, principal: Principal, arguments: dict[str, Any]) -> str:
        data = self._encode(arguments)
        self._workspace.append_bytes(
            principal, arguments["path"], data, max_bytes=self._max_file_size
        )
        return f"Appended {len(data)} bytes to {self._shown(arguments['path'])}"

    def _list(self, principal: Principal, arguments: dict[str, Any]) -> str:
        entries = self._workspace.list_directory(principal, arguments.get("path", "."))
        lines = [_line(e) for e in entries[: self._max_list_entries]]
        if len(entries) > self._max_list_entries:
            lines.append(f"... and {len(entries) - self._max_list_entries} more")
        return "\n".join(lines) if lines else "(empty directory)"

    def _mkdir(self, principal: Principal, arguments: dict[str, Any]) -> str:
        self._workspace.make_directory(principal, arguments["path"])
        return f"Created directory {self._shown(arguments['path'])}"

    def _delete(self, principal: Principal, arguments: dict[str, Any]) -> str:
        self._workspace.delete(
            principal, arguments["path"], recursive=arguments.get("recursive", False)
        )
        return f"Deleted {self._shown(arguments['path'])}"

    def _move(self, principal: Principal, arguments: dict[str, Any]) -> str:
        self._workspace.move(principal, arguments["source"], arguments["destination"])
        source, destination = (
            self._shown(arguments["source"]),
            self._shown(arguments["destination"]),
        )
        return f"Moved {source} to {destination}"

    def _copy(self, principal: Principal, arguments: dict[str, Any]) -> str:
        self._workspace.copy_file(
            principal,
            arguments["source"],
            arguments["destination"],
            max_bytes=self._max_file_size,
        )
        source, destination = (
            self._shown(arguments["source"]),
            self._shown(arguments["destination"]),
        )
        return f"Copied {source} to {destination}"

    def _info(self, principal: Principal, arguments: dict[str, Any]) -> str:
        entry = self._workspace.info(principal, arguments["path"])
        return json.dumps(
            {
                "path": entry.path,
                "type": entry.kind.value,
                "size": entry.size,
                "modified": datetime.fromtimestamp(entry.modified, UTC).isoformat(),
                "permissions": stat.filemode(entry.mode),
            }
        )

    def _search(self, principal: Principal, arguments: dict[str, Any]) -> str:
        base = arguments.get("path", ".")
        if self._workspace.info(principal, base).kind is not EntryKind.DIRECTORY:
            raise AIToolExecutionError(f"{self._shown(base)} is not a directory")
        pattern = arguments.get("pattern", "*")
        needle = arguments.get("content")
        found: list[str] = []
        scanned = 0
        with closing(self._workspace.walk(principal, base)) as entries:
            for entry in entries:
                if entry.kind is EntryKind.DIRECTORY:
                    continue
                scanned += 1
                if scanned > self._max_search_files:
                    found.append(f"(stopped after looking at {self._max_search_files} files)")
                    return "\n".join(found)
                if not PurePosixPath(entry.path).match(pattern):
                    continue
                if needle is None:
                    found.append(entry.path)
                elif entry.kind is EntryKind.FILE:
                    found.extend(self._grep(principal, entry, needle))
                if len(found) >= self._max_search_results:
                    found = found[: self._max_search_results]
                    found.append(f"(stopped at {self._max_search_results} results)")
                    return "\n".join(found)
        return "\n".join(found) if found else "No matches"

    def _grep(self, principal: Principal, entry: WorkspaceEntry, needle: str) -> list[str]:
        if entry.size > self._max_file_size:
            return []
        try:
            data = self._workspace.read_bytes(principal, entry.path, max_bytes=self._max_file_size)
        except WorkspaceFileError:
            return []  # a link, a multiply linked file, or gone meanwhile: never read
        text = data.decode("utf-8", errors="replace")
        return [
            f"{entry.path}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1)
            if needle in line
        ]

    def _shown(self, path: str) -> str:
        return repr(self._workspace.parse(path).text)


def _line(entry: WorkspaceEntry) -> str:
    if entry.kind is EntryKind.SYMLINK:
        return f"{entry.name} (symbolic link)"
    if entry.kind is EntryKind.DIRECTORY:
        return f"{entry.name}/"
    return f"{entry.name} ({entry.size} bytes)"


__all__ = ["FilesystemTool", "check_workspace_path", "in_workspace", "principal_of", "tool_error"]
