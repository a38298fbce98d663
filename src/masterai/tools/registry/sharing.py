"""The ``registry`` tool's sharing part: bundles and the local catalog.

``export_custom_tool`` returns a signed bundle (manifest, code, schemas, tests, content hash,
author, Ed25519 signature with a key derived from the instance's audit key);
``import_custom_tool`` checks hash and signature and saves the tool as a *draft*.
``publish_custom_tool`` (super admins) puts a tested version in the catalog;
``search_catalog`` and ``install_from_catalog`` find and install versions for companies (as
drafts: installed code needs passing tests and an approval here before it runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.audit import AuditLog
from masterai.services.custom_tools import BundleSigner, CatalogService, CustomToolService
from masterai.tools.adapter import tool_result
from masterai.tools.registry.custom import PARAMETERS as CUSTOM_PARAMETERS
from masterai.tools.registry.custom import Handler, call, principal_of

if TYPE_CHECKING:
    from masterai.settings import Settings
    from masterai.store import Database

_SHARED = {p.name: p for p in CUSTOM_PARAMETERS if p.name in ("name", "version", "companies")}
PARAMETERS = [
    *_SHARED.values(),
    AIToolParameter(
        "bundle", "object", "import_custom_tool: a bundle export_custom_tool made", required=False
    ),
    AIToolParameter(
        "query", "string", "search_catalog: words of the name or description", required=False
    ),
]


def _name(args: dict[str, Any]) -> str:
    name = args.get("name")
    if not isinstance(name, str) or not name:
        raise AIToolValidationError("name is required", "name")
    return name


class SharingPart:
    """Export, import and the catalog.

    Args:
        catalog: bundles and the catalog.
    """

    def __init__(self, catalog: CatalogService) -> None:
        self.catalog = catalog

    def parameters(self) -> list[AIToolParameter]:
        """The part's parameters (``name``, ``version``, ``companies`` as the custom part's)."""
        return list(PARAMETERS)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """export/import_custom_tool, publish_custom_tool, search_catalog, install_from_catalog."""
        ops: dict[str, AIToolOperationDefinition] = {}

        def op(
            name: str, handler: Handler, allowed: set[str], required: set[str], text: str, **kw: Any
        ) -> None:
            ops[name] = AIToolOperationDefinition(
                name, handler, None, allowed, required, text, **kw
            )

        op(
            "export_custom_tool",
            self._export,
            {"name", "version"},
            {"name"},
            "A signed bundle of a custom tool version (manifest, code, schemas, tests, hash)",
            read_only=True,
        )
        op(
            "import_custom_tool",
            self._import,
            {"bundle", "name"},
            {"bundle"},
            "Check a bundle's hash and signature and save it as a draft (never active "
            "before its tests pass and an approver activates it)",
        )
        op(
            "publish_custom_tool",
            self._publish,
            {"name", "version"},
            {"name", "version"},
            "Put a tested custom tool version in the local catalog (super admins)",
        )
        op(
            "search_catalog",
            self._search,
            {"query"},
            set(),
            "Catalog tools: versions, descriptions, install counts, which companies run which",
            read_only=True,
        )
        op(
            "install_from_catalog",
            self._install,
            {"name", "version", "companies"},
            {"name", "version", "companies"},
            "Install a catalog version for companies (as a draft to test and activate)",
        )
        return ops

    async def _export(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        name = _name(args)
        bundle = await call(
            self.catalog.export, principal_of(requester_ref), name, args.get("version")
        )
        version = bundle["manifest"]["version"]
        return tool_result(tool_call, f"Bundle of {name!r} version {version}", bundle)

    async def _import(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        data = await call(
            self.catalog.import_bundle,
            principal_of(requester_ref),
            args["bundle"],
            name=args.get("name"),
        )
        return tool_result(
            tool_call,
            f"Imported {data['name']!r} as draft version {data['latest_version']}; test and "
            "activate it to use it",
            data,
        )

    async def _publish(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        name = _name(args)
        data = await call(
            self.catalog.publish, principal_of(requester_ref), name, int(args["version"])
        )
        return tool_result(tool_call, f"Published {name!r} version {data['version']}", data)

    async def _search(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        principal_of(requester_ref)
        data = await call(self.catalog.search, tool_call.arguments.get("query"))
        return tool_result(tool_call, f"{len(data)} catalog tool(s)", data)

    async def _install(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        name = _name(args)
        data = await call(
            self.catalog.install,
            principal_of(requester_ref),
            name,
            int(args["version"]),
            list(args["companies"]),
        )
        return tool_result(
            tool_call,
            f"Installed {name!r} version {args['version']} for "
            f"{', '.join(data['installed']['companies'])} as a draft; test and activate it",
            data,
        )


def signer_for(settings: Settings, database: Database) -> BundleSigner:
    """This instance's bundle signer: a key derived from its audit key (read on first use)."""
    audit = AuditLog.from_settings(database, settings.audit, home=settings.home)

    def sign(message: bytes) -> str:
        keyring = audit.ensure_key()
        return keyring.sign(keyring.epochs[-1], message)

    return BundleSigner.from_audit_key(sign, settings.custom_tools.trusted_keys)


def build(settings: Settings, database: Database) -> SharingPart:
    """The sharing part over ``database``."""
    return SharingPart(CatalogService(CustomToolService(database), signer_for(settings, database)))
