"""Map user-given paths to real paths inside one root, refusing every way out."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ai_tool.ai_tool_exceptions import AIToolExecutionError


class FilesystemPathResolver:
    """Resolve relative paths under ``root``.

    Refused: absolute paths, any ``..`` component, NUL bytes, and paths whose real location
    (after following symbolic links) is outside the root. The last component is not followed
    when it is itself a link, so deleting or moving a link acts on the link, yet a link
    pointing outside the root is refused for every use.

    Checking then acting leaves a window in which another process could swap a directory for
    a link; the tool is meant for a workspace only the tool writes to.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._real_root: Path | None = None

    @property
    def root(self) -> Path:
        """The root, fully resolved (on first use: constructors do no I/O)."""
        if self._real_root is None:
            self._real_root = self._root.resolve()
        return self._real_root

    def resolve(self, path: str, *, key: str = "path") -> Path:
        """Return the real path for ``path`` (``"."`` or ``""`` is the root itself).

        Raises:
            AIToolExecutionError: ``path`` is absolute, contains ``..`` or leads outside.
        """
        if "\0" in path:
            raise AIToolExecutionError(f"'{key}' must not contain NUL bytes; got {path!r}")
        pure = PurePosixPath(path)
        if pure.is_absolute() or path.startswith("~"):
            raise AIToolExecutionError(
                f"'{key}' must be relative to the filesystem root; got absolute path {path!r}"
            )
        if ".." in pure.parts:
            raise AIToolExecutionError(
                f"'{key}' must not contain '..'; got {path!r}. Give a path inside the root"
            )
        root = self.root
        if not pure.parts:
            return root
        parent = (root / pure.parent).resolve()
        target = parent / pure.name
        if not parent.is_relative_to(root) or not target.resolve().is_relative_to(root):
            raise AIToolExecutionError(
                f"'{key}' {path!r} leads outside the filesystem root through a symbolic link"
            )
        return target

    def display(self, real: Path) -> str:
        """Return ``real`` as a root-relative path for messages (never the host path)."""
        relative = real.relative_to(self.root).as_posix()
        return relative if relative != "." else "."
