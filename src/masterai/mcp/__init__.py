"""The MCP face: Master AI's tools, resources and prompts to any MCP client.

``masterai mcp`` serves it on stdio (:mod:`masterai.mcp.stdio`); ``masterai serve`` at
``/mcp`` over streamable HTTP with bearer tokens (:mod:`masterai.mcp.http`). Both build one
:class:`~masterai.mcp.server.McpFace`, which acts only through the registry.
"""

from masterai.mcp.catalog import McpTool, catalog
from masterai.mcp.server import Caller, McpFace, Unauthenticated

__all__ = ["Caller", "McpFace", "McpTool", "Unauthenticated", "catalog"]
