"""The ``filesystem`` tool, confined to one root directory.

Operations: read, write, append, list, create directory, delete, move, copy, info, search.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ai_tool.ai_tool import AITool
from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_exceptions import (
    AIToolAuthorizationDenied,
    AIToolExecutionError,
    AIToolValidationError,
)
from ai_tool.ai_tool_operation_definition import (
    AIToolAuthorizationCallback,
    AIToolOperationDefinition,
)
from ai_tool.ai_tool_parameter import AIToolParameter
from ai_tool.ai_tool_result import AIToolResult
from ai_tool.filesystem.operations import OPERATIONS, FilesystemOperation, call_context
from ai_tool.filesystem.path_resolver import FilesystemPathResolver

_PATH_KEYS = ("path", "source", "destination")
_Sync = Callable[[dict[str, Any]], str]


def _p(name: str, type_: str, description: str, **kw: Any) -> AIToolParameter:
    return AIToolParameter(name, type_, description, required=False, **kw)


_PARAMETERS = [
    _p("path", "string", "File or directory path relative to the root ('.' is the root)"),
    _p("content", "string", "Text to write, append, or (for search) to look for"),
    _p("encoding", "string", "Text encoding", default="utf-8"),
    _p("create_parents", "boolean", "Create missing parent directories", default=True),
    _p("recursive", "boolean", "Delete a directory and everything in it", default=False),
    _p("source", "string", "Path to move or copy from"),
    _p("destination", "string", "Path to move or copy to (must not exist)"),
    _p("pattern", "string", "File-name glob for search, e.g. '*.py'", default="*"),
]


class FilesystemAITool(AITool):
    """File operations confined to ``root``.

    Args:
        root: Directory the tool may touch; nothing outside it is reachable.
        max_file_size: Largest file, in bytes, that may be read, written or copied.
        max_list_entries: Most entries ``list_directory`` returns.
        max_search_results: Most matches ``search`` returns.
        max_search_files: Most files ``search`` looks at before it stops.
    """

    # Paths and contents reach the OS: refuse a wrong type before anything runs.
    type_check_arguments = True

    def __init__(
        self,
        root: Path,
        *,
        max_file_size: int = 1_048_576,
        max_list_entries: int = 1000,
        max_search_results: int = 100,
        max_search_files: int = 10_000,
    ) -> None:
        self._paths = FilesystemPathResolver(root)
        self._max_file_size = max_file_size
        self._max_list_entries = max_list_entries
        self._max_search_results = max_search_results
        self._max_search_files = max_search_files

    def get_definition(self) -> AIToolDefinition:
        """Return the ``filesystem`` definition."""
        return self._build_definition_from_operations(
            name="filesystem",
            description_prefix=(
                "The filesystem tool reads and changes files inside one workspace directory. "
                f"Paths are relative to it; files are limited to {self._max_file_size} bytes."
            ),
            additional_parameters=_PARAMETERS,
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the filesystem operations."""
        return {spec.name: self._operation(spec) for spec in OPERATIONS}

    def _operation(self, spec: FilesystemOperation) -> AIToolOperationDefinition:
        """The definition of ``spec``, run by the tool's method of that name."""
        name = spec.name
        sync: _Sync = getattr(self, spec.method)
        # Read-only operations need no approval; destructive ones are approved by execute().
        ask = not spec.read_only and not spec.destructive

        async def handler(
            tool_call: AIToolCall, requester_ref: Any, request_auth: AIToolAuthorizationCallback
        ) -> AIToolResult:
            if ask:
                reason = f"The filesystem tool wants to run '{name}'"
                context = call_context(tool_call.arguments)
                if not await request_auth(
                    "filesystem", tool_call.arguments, reason, context, False
                ):
                    raise AIToolAuthorizationDenied(f"Authorization denied for filesystem {name}")
            try:
                content = await asyncio.to_thread(sync, tool_call.arguments)
            except OSError as e:
                raise AIToolExecutionError(self._describe_os_error(name, e)) from e
            return AIToolResult(id=tool_call.id, name="filesystem", content=content)

        return spec.definition(handler)

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Refuse paths that leave the root and unknown encodings before anything runs."""
        for key in _PATH_KEYS:
            value = arguments.get(key)
            if isinstance(value, str):
                try:
                    self._paths.resolve(value, key=key)
                except AIToolExecutionError as e:
                    raise AIToolValidationError(str(e), key) from None
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

    def _describe_os_error(self, operation: str, error: OSError) -> str:
        """Say what the OS refused, naming paths relative to the root (never host paths)."""
        reason = error.strerror or type(error).__name__
        names = []
        for filename in (error.filename, error.filename2):
            if filename is None:
                continue
            real = Path(os.fsdecode(filename))
            names.append(
                repr(self._paths.display(real)) if real.is_relative_to(self._paths.root) else "?"
            )
        return f"{operation} failed: {reason}" + (f" ({', '.join(names)})" if names else "")

    def _resolve(self, arguments: dict[str, Any], key: str = "path") -> Path:
        return self._paths.resolve(arguments.get(key, "."), key=key)

    def _show(self, path: Path) -> str:
        return repr(self._paths.display(path))

    def _check_size(self, path: Path, size: int) -> None:
        if size > self._max_file_size:
            raise AIToolExecutionError(
                f"{self._show(path)} would be {size} bytes; the limit is "
                f"{self._max_file_size} bytes"
            )

    def _existing(self, path: Path) -> os.stat_result:
        try:
            return path.lstat()
        except FileNotFoundError:
            raise AIToolExecutionError(f"{self._show(path)} does not exist") from None

    def _absent(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            raise AIToolExecutionError(f"{self._show(path)} already exists")

    def _atomic_write(self, path: Path, data: bytes) -> None:
        # Write beside the target and rename over it, so a failure never leaves half a file.
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644  # mkstemp's 0600 would hide new files from other readers
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _encode(self, path: Path, arguments: dict[str, Any]) -> bytes:
        encoding = arguments.get("encoding", "utf-8")
        try:
            data: bytes = arguments["content"].encode(encoding)
        except UnicodeEncodeError as e:
            raise AIToolExecutionError(f"Content cannot be encoded as {encoding!r}: {e}") from None
        return data

    # --- operations (run in a worker thread) ----------------------------------------

    def _read(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        info = self._existing(path)
        if not path.is_file():
            raise AIToolExecutionError(f"{self._show(path)} is not a file")
        self._check_size(path, info.st_size)
        encoding = arguments.get("encoding", "utf-8")
        try:
            return path.read_bytes().decode(encoding)
        except UnicodeDecodeError as e:
            raise AIToolExecutionError(
                f"{self._show(path)} is not valid {encoding} text ({e.reason} at byte {e.start})"
            ) from None

    def _write(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        if path == self._paths.root or path.is_dir():
            raise AIToolExecutionError(f"{self._show(path)} is a directory")
        data = self._encode(path, arguments)
        self._check_size(path, len(data))
        if not path.parent.is_dir():
            if not arguments.get("create_parents", True):
                raise AIToolExecutionError(
                    f"Directory {self._show(path.parent)} does not exist; "
                    "pass create_parents=true to create it"
                )
            path.parent.mkdir(parents=True)
        self._atomic_write(path, data)
        return f"Wrote {len(data)} bytes to {self._show(path)}"

    def _append(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        if path.is_dir():
            raise AIToolExecutionError(f"{self._show(path)} is a directory")
        data = self._encode(path, arguments)
        current = path.read_bytes() if path.exists() else b""
        self._check_size(path, len(current) + len(data))
        self._atomic_write(path, current + data)  # files are small (max_file_size): rewrite
        return f"Appended {len(data)} bytes to {self._show(path)}"

    def _list(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        self._existing(path)
        if not path.is_dir():
            raise AIToolExecutionError(f"{self._show(path)} is not a directory")
        entries = sorted(path.iterdir(), key=lambda p: p.name)
        lines = []
        for entry in entries[: self._max_list_entries]:
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode):
                lines.append(f"{entry.name} (symbolic link)")
            elif stat.S_ISDIR(mode):
                lines.append(f"{entry.name}/")
            else:
                lines.append(f"{entry.name} ({entry.lstat().st_size} bytes)")
        if len(entries) > self._max_list_entries:
            lines.append(f"... and {len(entries) - self._max_list_entries} more")
        return "\n".join(lines) if lines else "(empty directory)"

    def _mkdir(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        self._absent(path)
        path.mkdir(parents=True)
        return f"Created directory {self._show(path)}"

    def _delete(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        if path == self._paths.root:
            raise AIToolExecutionError("The filesystem root itself cannot be deleted")
        mode = self._existing(path).st_mode
        if not stat.S_ISDIR(mode):
            path.unlink()  # a link is removed itself, never its target
        elif arguments.get("recursive", False):
            shutil.rmtree(path)
        elif any(path.iterdir()):
            raise AIToolExecutionError(
                f"Directory {self._show(path)} is not empty; pass recursive=true to delete "
                "it and everything in it"
            )
        else:
            path.rmdir()
        return f"Deleted {self._show(path)}"

    def _pair(self, arguments: dict[str, Any]) -> tuple[Path, Path]:
        source = self._resolve(arguments, "source")
        destination = self._resolve(arguments, "destination")
        if source == self._paths.root:
            raise AIToolExecutionError("The filesystem root itself cannot be moved or copied")
        self._existing(source)
        self._absent(destination)
        if not destination.parent.is_dir():
            raise AIToolExecutionError(f"Directory {self._show(destination.parent)} does not exist")
        return source, destination

    def _move(self, arguments: dict[str, Any]) -> str:
        source, destination = self._pair(arguments)
        if destination.is_relative_to(source):
            raise AIToolExecutionError(f"Cannot move {self._show(source)} into itself")
        os.rename(source, destination)
        return f"Moved {self._show(source)} to {self._show(destination)}"

    def _copy(self, arguments: dict[str, Any]) -> str:
        source, destination = self._pair(arguments)
        if not source.is_file():
            raise AIToolExecutionError(f"{self._show(source)} is not a file")
        self._check_size(source, source.stat().st_size)
        self._atomic_write(destination, source.read_bytes())
        return f"Copied {self._show(source)} to {self._show(destination)}"

    def _info(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments)
        info = self._existing(path)
        kind = (
            "symbolic link"
            if stat.S_ISLNK(info.st_mode)
            else "directory"
            if stat.S_ISDIR(info.st_mode)
            else "file"
        )
        modified = datetime.fromtimestamp(info.st_mtime, UTC).isoformat()
        return json.dumps(
            {
                "path": self._paths.display(path),
                "type": kind,
                "size": info.st_size,
                "modified": modified,
                "permissions": stat.filemode(info.st_mode),
            }
        )

    def _search(self, arguments: dict[str, Any]) -> str:
        base = self._resolve(arguments)
        if not base.is_dir():
            raise AIToolExecutionError(f"{self._show(base)} is not a directory")
        pattern = arguments.get("pattern", "*")
        needle = arguments.get("content")
        found: list[str] = []
        root = self._paths.root
        scanned = 0
        for directory, dirnames, filenames in os.walk(base):  # never follows directory links
            dirnames.sort()
            for name in sorted(filenames):
                scanned += 1
                if scanned > self._max_search_files:
                    found.append(f"(stopped after looking at {self._max_search_files} files)")
                    return "\n".join(found)
                path = Path(directory) / name
                if not path.match(pattern):
                    continue
                shown = self._paths.display(path)
                if needle is None:
                    found.append(shown)
                elif path.resolve().is_relative_to(root) and path.is_file():
                    found.extend(self._grep(path, shown, needle))
                if len(found) >= self._max_search_results:
                    found = found[: self._max_search_results]
                    found.append(f"(stopped at {self._max_search_results} results)")
                    return "\n".join(found)
        return "\n".join(found) if found else "No matches"

    def _grep(self, path: Path, shown: str, needle: str) -> list[str]:
        if path.stat().st_size > self._max_file_size:
            return []
        text = path.read_bytes().decode("utf-8", errors="replace")
        return [
            f"{shown}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1)
            if needle in line
        ]
