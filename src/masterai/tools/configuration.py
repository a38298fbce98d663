"""The ``configuration`` tool: versioned AI configurations of companies, and templates.

A thin adapter over :class:`masterai.services.configs.ConfigurationService`. Mutating
operations are ``destructive``: before the handler runs, the registry's approval step shows
the exact per-company diff (:meth:`ConfigurationTool.preview_call`, a dry run computed once).
The handler then applies that change only if every company is still at the version the diff
was based on, so the human approves exactly what is written. ``dry_run=true`` returns the diff
and writes nothing, so it runs without asking (:meth:`ConfigurationTool.requires_authorization`).
Called outside the registry, the framework asks the seed's authorization callback with the
diff as context (``extract_context``) and the handler applies a fresh dry run of the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolCheckedCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.registry.approval import Preview, approved_preview
from masterai.security import ParameterRole
from masterai.services.configs import FIELDS, ChangeSet, ConfigurationService
from masterai.services.errors import InvalidInputError, ServiceError
from masterai.tools.adapter import author_of, call_service, tool_result

NAME = "configuration"

_COMMON = {"change_note", "dry_run"}
_OPTIONAL_TEXT = {"type": ["string", "null"]}

CONFIGURATION_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "result": {
            "type": "object",
            "properties": {
                "company_id": {"type": "string"},
                "version": {"type": "integer"},
                "is_active": {"type": "boolean"},
                "provider": _OPTIONAL_TEXT,
                "model": _OPTIONAL_TEXT,
                "system_prompt": _OPTIONAL_TEXT,
                "temperature": {"type": ["number", "null"]},
                "max_tokens": {"type": ["integer", "null"]},
                "settings": {"type": "object"},
                "author": _OPTIONAL_TEXT,
                "change_note": _OPTIONAL_TEXT,
                "created_at": {"type": "string"},
                "source_version": {"type": ["integer", "null"]},
            },
            "required": ["company_id", "version", "is_active", "settings", "created_at"],
        },
    },
    "required": ["summary", "result"],
}
"""What ``get_configuration`` returns (its MCP ``outputSchema``)."""

# operation -> (allowed, required, description)
_MUTATING: dict[str, tuple[set[str], set[str], str]] = {
    "update_prompt": (
        {"company_id", "prompt"} | _COMMON,
        {"company_id", "prompt"},
        "Set a company's system prompt (creates a new version)",
    ),
    "update_configuration": (
        {"company_id", "changes"} | _COMMON,
        {"company_id", "changes"},
        "Change provider, model, temperature, max_tokens, system_prompt or settings of a company",
    ),
    "apply_to_multiple_companies": (
        {"company_ids", "changes"} | _COMMON,
        {"company_ids", "changes"},
        "Apply the same change to several companies in one all-or-nothing transaction",
    ),
    "clone_configuration": (
        {"source_company_id", "target_company_id"} | _COMMON,
        {"source_company_id", "target_company_id"},
        "Copy one company's active configuration to another company",
    ),
    "apply_template": (
        {"template_name", "company_id", "company_ids"} | _COMMON,
        {"template_name"},
        "Apply a template to one company (company_id) or several (company_ids), all or none",
    ),
    "rollback": (
        {"company_id", "version"} | _COMMON,
        {"company_id", "version"},
        "Make an earlier version active again (as a new version)",
    ),
}


class ConfigurationTool(AITool):
    """Read and change companies' versioned AI configurations and templates.

    Args:
        service: The configuration service over the store.
    """

    type_check_arguments = True

    def __init__(self, service: ConfigurationService) -> None:
        self._service = service

    def get_definition(self) -> AIToolDefinition:
        """Return the ``configuration`` definition."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "Read and change the customer-facing AI configuration of companies. Every "
                "change is a new version (author, time, note); nothing is overwritten, and "
                "rollback restores any earlier version. Mutating operations accept dry_run "
                "to preview the per-company diff."
            ),
            additional_parameters=_PARAMETERS,
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the configuration operations."""
        ops = {
            "get_configuration": self._read_op(
                "get_configuration",
                {"company_id", "version"},
                {"company_id"},
                "Show a company's active configuration (or a given version)",
                self._get,
                CONFIGURATION_OUTPUT,
            ),
            "list_versions": self._read_op(
                "list_versions",
                {"company_id", "limit"},
                {"company_id"},
                "List a company's configuration versions, newest first",
                self._versions,
            ),
            "diff_versions": self._read_op(
                "diff_versions",
                {"company_id", "from_version", "to_version"},
                {"company_id", "from_version", "to_version"},
                "Show the differences between two versions of a company's configuration",
                self._diff,
            ),
            "list_templates": self._read_op(
                "list_templates",
                set(),
                set(),
                "List the configuration templates",
                self._templates,
            ),
            "save_as_template": AIToolOperationDefinition(
                "save_as_template",
                self._save_template,
                self._template_context,
                {"company_id", "template_name", "description", "dry_run"},
                {"company_id", "template_name"},
                "Save a company's active configuration as a new named template",
                destructive=True,
            ),
        }
        for name, (allowed, required, description) in _MUTATING.items():
            ops[name] = AIToolOperationDefinition(
                name,
                self._mutate,
                self._diff_context,
                allowed,
                required,
                description,
                destructive=True,
            )
        return ops

    def requires_authorization(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> bool:
        """Ask before a change, but not before a dry run: it writes nothing."""
        return operation.destructive and not arguments.get("dry_run", False)

    async def preview_call(self, checked: AIToolCheckedCall, requester_ref: Any) -> Preview:
        """The exact change ``checked`` would make, as a diff, computed once as a dry run.

        The payload is the change set; the approved call applies it only if every company is
        still at the version it was based on.

        Raises:
            AIToolExecutionError: the change cannot be made (unknown company or version, ...).
        """
        arguments = checked.arguments
        if checked.operation.name == "save_as_template":
            text = await call_service(self._template_context, arguments)
            return Preview(text=text)
        plan = await call_service(
            self._run,
            arguments,
            author=author_of(requester_ref),
            change_note=arguments.get("change_note"),
            dry_run=True,
        )
        return Preview(text=plan.diff_text(), payload=plan)

    @staticmethod
    def _read_op(
        name: str,
        allowed: set[str],
        required: set[str],
        description: str,
        handler: Callable[..., Any],
        output_schema: dict[str, Any] | None = None,
    ) -> AIToolOperationDefinition:
        return AIToolOperationDefinition(
            name,
            handler,
            None,
            allowed,
            required,
            description,
            read_only=True,
            output_schema=output_schema,
        )

    # --- read operations ----------------------------------------------------------------

    async def _get(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        config = await call_service(
            self._service.get_configuration, args["company_id"], args.get("version")
        )
        summary = (
            f"{config.company_id} v{config.version}{' (active)' if config.is_active else ''}: "
            f"{config.provider}/{config.model}, temperature {config.temperature}, max_tokens "
            f"{config.max_tokens}, by {config.author} ({config.change_note}).\n"
            f"System prompt: {config.system_prompt}"
        )
        return tool_result(tool_call, summary, config.to_dict())

    async def _versions(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        versions = await call_service(
            self._service.list_versions, args["company_id"], limit=args.get("limit", 50)
        )
        lines = [
            f"v{v.version}{'*' if v.is_active else ''} {v.created_at:%Y-%m-%d %H:%M} "
            f"{v.author}: {v.change_note}"
            for v in versions
        ]
        return tool_result(tool_call, "\n".join(lines), [v.to_dict() for v in versions])

    async def _diff(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        change = await call_service(
            self._service.diff_versions,
            args["company_id"],
            args["from_version"],
            args["to_version"],
        )
        text = change.diff or "no differences"
        return tool_result(tool_call, text, {"changes": [c.__dict__ for c in change.changes]})

    async def _templates(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        templates = await call_service(self._service.list_templates)
        lines = [f"{t.name}: {t.description or ''} ({t.values.get('model')})" for t in templates]
        return tool_result(
            tool_call, "\n".join(lines) or "no templates", [t.to_dict() for t in templates]
        )

    # --- mutating operations --------------------------------------------------------------

    def _run(self, arguments: dict[str, Any], **options: Any) -> ChangeSet:
        op = arguments["operation"]
        s = self._service
        if op == "update_prompt":
            return s.update_prompt(arguments["company_id"], arguments["prompt"], **options)
        if op == "update_configuration":
            return s.update_configuration(arguments["company_id"], arguments["changes"], **options)
        if op == "apply_to_multiple_companies":
            return s.apply_to_multiple_companies(
                arguments["company_ids"], arguments["changes"], **options
            )
        if op == "clone_configuration":
            return s.clone_configuration(
                arguments["source_company_id"], arguments["target_company_id"], **options
            )
        if op == "apply_template":
            return s.apply_template(arguments["template_name"], _targets(arguments), **options)
        if op == "rollback":
            return s.rollback(arguments["company_id"], arguments["version"], **options)
        raise AIToolExecutionError(f"Unsupported operation: {op!r}")

    def _diff_context(self, arguments: dict[str, Any]) -> str | None:
        """The seed's context text: the diff of this call, or ``None`` if it cannot be made."""
        try:
            plan = self._run(
                arguments,
                author="(preview)",
                change_note=arguments.get("change_note"),
                dry_run=True,
            )
        except ServiceError:
            return None
        prefix = "Dry run: nothing will be changed.\n" if arguments.get("dry_run") else ""
        return prefix + plan.diff_text()

    async def _mutate(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        author = author_of(requester_ref)
        note = args.get("change_note")
        if args.get("dry_run", False):
            plan = await call_service(
                self._run, args, author=author, change_note=note, dry_run=True
            )
            return tool_result(tool_call, plan.summary(), plan.to_dict())
        preview = approved_preview(tool_call)
        if preview is not None and isinstance(preview.payload, ChangeSet):
            plan = preview.payload  # exactly what the approver saw
        else:
            # Called without the registry: the framework asked with _diff_context already.
            plan = await call_service(
                self._run, args, author=author, change_note=note, dry_run=True
            )
        result = await call_service(
            self._run,
            args,
            author=author,
            change_note=note,
            expected_versions=plan.expected_versions,
        )
        return tool_result(tool_call, result.summary(), result.to_dict())

    def _template_context(self, arguments: dict[str, Any]) -> str:
        config = self._service.get_configuration(arguments["company_id"])
        return (
            f"Save {config.company_id} v{config.version} ({config.provider}/{config.model}) as "
            f"template {arguments['template_name']!r}"
            + (" (dry run: nothing will be saved)" if arguments.get("dry_run") else "")
        )

    async def _save_template(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        template = await call_service(
            self._service.save_as_template,
            args["company_id"],
            args["template_name"],
            description=args.get("description"),
            author=author_of(requester_ref),
            dry_run=bool(args.get("dry_run", False)),
        )
        verb = "Would save" if args.get("dry_run") else "Saved"
        return tool_result(
            tool_call,
            f"{verb} template {template.name!r} from {args['company_id']}",
            template.to_dict(),
        )


def _targets(arguments: dict[str, Any]) -> list[str]:
    one = arguments.get("company_id")
    many = arguments.get("company_ids")
    if (one is None) == (many is None):
        raise InvalidInputError("apply_template needs exactly one of company_id, company_ids")
    return [one] if one is not None else list(many or [])


CHANGE_FIELDS = [
    AIToolParameter("provider", "string", "LLM provider, e.g. 'openai'", required=False),
    AIToolParameter(
        "model",
        "string",
        "Model name, e.g. 'gpt-4o-mini'",
        required=False,
        role=ParameterRole.MODEL,
    ),
    AIToolParameter("system_prompt", "string", "The system prompt", required=False),
    AIToolParameter("temperature", "number", "Sampling temperature, 0 to 2", required=False),
    AIToolParameter(
        "max_tokens", "integer", "Most tokens per answer", required=False, role=ParameterRole.PLAIN
    ),
    AIToolParameter(
        "settings",
        "object",
        "Other settings, merged into the current ones (null deletes a key)",
        required=False,
    ),
]
assert [p.name for p in CHANGE_FIELDS] == list(FIELDS)
"""The fields a configuration change may set (``FIELDS``), as parameters; the playground's
``draft`` takes the same."""

_PARAMETERS = [
    AIToolParameter(
        "company_id",
        "string",
        "Company id (slug), e.g. 'acme'",
        required=False,
        role=ParameterRole.COMPANY,
    ),
    AIToolParameter(
        "company_ids",
        "array",
        "Several company ids",
        required=False,
        items=AIToolParameter("company_id", "string", "Company id"),
        role=ParameterRole.COMPANY,
    ),
    AIToolParameter(
        "source_company_id",
        "string",
        "Company to copy from",
        required=False,
        role=ParameterRole.READ_COMPANY,
    ),
    AIToolParameter(
        "target_company_id",
        "string",
        "Company to copy to",
        required=False,
        role=ParameterRole.COMPANY,
    ),
    AIToolParameter("prompt", "string", "The new system prompt", required=False),
    AIToolParameter(
        "changes",
        "object",
        "Fields to change (only those given change)",
        required=False,
        properties=CHANGE_FIELDS,
    ),
    AIToolParameter("version", "integer", "A configuration version number", required=False),
    AIToolParameter("from_version", "integer", "Older version to compare", required=False),
    AIToolParameter("to_version", "integer", "Newer version to compare", required=False),
    AIToolParameter("limit", "integer", "Most versions to list", required=False, default=50),
    AIToolParameter("template_name", "string", "Template name", required=False),
    AIToolParameter("description", "string", "Template description", required=False),
    AIToolParameter("change_note", "string", "Why this change is made", required=False),
    AIToolParameter(
        "dry_run",
        "boolean",
        "Only show the per-company diff; change nothing",
        required=False,
        default=False,
    ),
]
