"""The operations of the ``filesystem`` tool: names, parameters, texts and flags.

One table serves every tool that offers them (the reference tool here and Master AI's
workspace tool), so the operations a model is shown never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai_tool.ai_tool_operation_definition import AIToolOperationDefinition, AIToolOperationHandler


@dataclass(frozen=True, kw_only=True)
class FilesystemOperation:
    """One operation of the ``filesystem`` tool."""

    name: str
    method: str
    """The name of the tool's method that runs it (every filesystem tool has the same ones)."""
    extra: frozenset[str] = frozenset()
    """Parameters besides the path ones."""
    description: str
    read_only: bool = False
    destructive: bool = False
    required: frozenset[str] = frozenset()
    """Required parameters besides the path ones."""
    path: bool | None = True
    """``True``: ``path`` is required; ``False``: optional; ``None``: ``source`` and
    ``destination`` are required instead."""

    @property
    def allowed(self) -> set[str]:
        """Every parameter the operation takes."""
        paths = {"source", "destination"} if self.path is None else {"path"}
        return set(self.extra) | paths

    @property
    def needed(self) -> set[str]:
        """The parameters the operation requires."""
        if self.path is None:
            return set(self.required) | {"source", "destination"}
        return set(self.required) | ({"path"} if self.path else set())

    def definition(self, handler: AIToolOperationHandler) -> AIToolOperationDefinition:
        """The operation's definition, run by ``handler``."""
        return AIToolOperationDefinition(
            self.name,
            handler,
            call_context,
            self.allowed,
            self.needed,
            self.description,
            read_only=self.read_only,
            destructive=self.destructive,
        )


def _op(
    name: str,
    method: str,
    extra: set[str],
    description: str,
    *,
    read_only: bool = False,
    destructive: bool = False,
    required: set[str] | None = None,
    path: bool | None = True,
) -> FilesystemOperation:
    return FilesystemOperation(
        name=name,
        method=method,
        extra=frozenset(extra),
        description=description,
        read_only=read_only,
        destructive=destructive,
        required=frozenset(required or ()),
        path=path,
    )


OPERATIONS: tuple[FilesystemOperation, ...] = (
    _op("read_file", "_read", {"encoding"}, "Read a text file", read_only=True),
    _op(
        "write_file",
        "_write",
        {"content", "encoding", "create_parents"},
        "Create or replace a text file (atomically)",
        destructive=True,
        required={"content"},
    ),
    _op(
        "append_to_file",
        "_append",
        {"content", "encoding"},
        "Append text to a file, creating it if needed",
        required={"content"},
    ),
    _op("list_directory", "_list", set(), "List a directory", read_only=True, path=False),
    _op("create_directory", "_mkdir", set(), "Create a directory and its parents"),
    _op("delete", "_delete", {"recursive"}, "Delete a file or directory", destructive=True),
    _op("move", "_move", set(), "Move or rename a file or directory", destructive=True, path=None),
    _op("copy_file", "_copy", set(), "Copy a file", path=None),
    _op("get_info", "_info", set(), "Type, size and modification time", read_only=True),
    _op(
        "search",
        "_search",
        {"pattern", "content"},
        "Find files by name glob under a directory, optionally containing some text",
        read_only=True,
        path=False,
    ),
)
"""The operations, in the order the seed lists them."""


def call_context(arguments: dict[str, Any]) -> str:
    """What a call touches, as shown to an approver: the path, or source -> destination."""
    if "source" in arguments:
        return f"{arguments.get('source')!r} -> {arguments.get('destination')!r}"
    return f"path {arguments.get('path', '.')!r}"
