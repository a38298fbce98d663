"""The ``registry`` tool (category ``registry``): custom tools on demand, sharing, alerts.

Composed of parts (:mod:`masterai.tools.composed`) listed in :mod:`.parts`:

- ``custom`` (:mod:`.custom`): create_custom_tool, update_custom_tool, test_custom_tool,
  activate_custom_tool (approval shows the code diff; refused while tests fail),
  disable_custom_tool, get_custom_tool, list_custom_tools, delete_custom_tool, and the
  internal run_realtime_batch (the realtime monitors' audited call);
- ``sharing`` (:mod:`.sharing`): export_custom_tool, import_custom_tool, publish_custom_tool,
  search_catalog, install_from_catalog;
- ``alerts`` (:mod:`masterai.tools.registry_alerts`): list_alerts, acknowledge_alert, ...

Active custom tools themselves are registered under their own names by
:class:`~masterai.tools.registry.binder.CustomToolBinder`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ai_tool import AIToolCheckedCall
from masterai.registry import Preview
from masterai.tools.composed import ComposedTool, ToolPart

NAME = "registry"
RegistryPart = ToolPart
"""A group of ``registry`` operations (``parameters()`` and ``operations()``)."""


@runtime_checkable
class PreviewingPart(Protocol):
    """A part that shows approvers what some of its operations would do."""

    previewed: frozenset[str]
    """The operations it previews."""

    async def preview(self, checked: AIToolCheckedCall, requester_ref: Any) -> Preview:
        """What ``checked`` would do, computed without changing anything."""
        ...


class RegistryTool(ComposedTool):
    """The ``registry`` tool: the operations of its parts, under one name."""

    NAME = NAME
    DESCRIPTION = (
        "Custom tools on demand: create, test, activate (with approval), share and install "
        "tools whose code runs in the sandbox; alerts they and the threat monitors raise"
    )

    async def preview_call(self, checked: AIToolCheckedCall, requester_ref: Any) -> Preview:
        """The preview of the part that owns the operation (the activation's code diff)."""
        for part in self._parts:
            if isinstance(part, PreviewingPart) and checked.operation.name in part.previewed:
                return await part.preview(checked, requester_ref)
        text = self.extract_context_text(checked)
        return Preview(text=text)

    @staticmethod
    def extract_context_text(checked: AIToolCheckedCall) -> str:
        """One line naming the operation and its tool argument."""
        name = checked.arguments.get("name")
        return f"{checked.operation.name} {name!r}" if name else checked.operation.name


__all__ = ["NAME", "PreviewingPart", "RegistryPart", "RegistryTool"]
