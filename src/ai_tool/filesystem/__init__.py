"""The ``filesystem`` reference tool, confined to one root directory."""

from ai_tool.filesystem.filesystem_ai_tool import FilesystemAITool
from ai_tool.filesystem.path_resolver import FilesystemPathResolver

__all__ = ["FilesystemAITool", "FilesystemPathResolver"]
