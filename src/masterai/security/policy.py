"""The one policy function: :func:`decide` (principal, tool action) -> :class:`Decision`.

Deny by default. Besides the principal's access to the tool's category, it looks into the
arguments by name (conventions every tool follows):

- companies: ``company_id``, ``company_ids`` (list), ``target_company_id`` need write access
  unless the operation is read-only; ``source_company_id`` needs read access; the call's
  company scope (``ExecutionContext.company_id``) is checked like ``company_id``;
- sensitive data: a truthy ``include_sensitive`` needs ``data_access.sensitive_data``;
- code execution (category ``code``/``scripts``/``custom``, or a call with both ``code`` and
  ``language`` arguments): ``language``, ``timeout`` (seconds), ``memory`` (bytes or
  ``"512m"``) and ``packages``;
- integrations: ``url``, ``urls``, ``endpoint`` and ``*_url`` hosts against
  ``allowed_domains``; ``api`` against ``allowed_apis``; ``to``, ``cc``, ``bcc``, ``email``,
  ``recipients`` domains against ``email_domains``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from masterai.security.errors import PermissionSpecError
from masterai.security.permissions import ToolPermissions, allows, parse_size
from masterai.security.principals import Principal

CODE_CATEGORIES = frozenset({"code", "scripts", "custom"})
URL_KEYS = frozenset({"url", "urls", "endpoint"})
EMAIL_KEYS = frozenset({"to", "cc", "bcc", "email", "recipient", "recipients"})


@dataclass(frozen=True, kw_only=True)
class ToolAction:
    """What a principal wants to do: one operation of one tool with its arguments."""

    tool: str
    category: str
    """Tool category for role access (``configuration``, ``analytics``, ``code``, ...)."""
    operation: str | None
    read_only: bool
    arguments: Mapping[str, Any] = field(default_factory=dict)
    company_id: str | None = None
    """The call's company scope, if any."""


@dataclass(frozen=True)
class Decision:
    """Allow or deny, with the reason (shown to the user and stored in the audit log)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _what(action: ToolAction) -> str:
    if action.operation is None:
        return f"tool {action.tool!r}"
    return f"operation {action.operation!r} of tool {action.tool!r}"


def decide(principal: Principal, action: ToolAction) -> Decision:
    """Decide whether ``principal`` may perform ``action``; deny by default."""
    checks = (_check_tool, _check_companies, _check_sensitive, _check_code, _check_integrations)
    for check in checks:
        denial = check(principal, action)
        if denial is not None:
            return Decision(False, denial)
    return Decision(True, f"{principal.role} {principal.name!r} may use {_what(action)}")


def _check_tool(principal: Principal, action: ToolAction) -> str | None:
    level = principal.permissions.tool_access(action.category)
    if level == "none":
        return f"role {principal.role!r} may not use {action.category!r} tools ({_what(action)})"
    if level == "read" and not action.read_only:
        return (
            f"role {principal.role!r} has read-only access to {action.category!r} tools and "
            f"{_what(action)} changes data"
        )
    return None


def _company_needs(action: ToolAction) -> Iterator[tuple[Any, bool]]:
    """(company id, needs write) pairs named by the arguments and the call's scope."""
    write = not action.read_only
    args = action.arguments
    if action.company_id is not None:
        yield action.company_id, write
    for key in ("company_id", "target_company_id"):
        if key in args:
            yield args[key], write
    if "source_company_id" in args:
        yield args["source_company_id"], False
    ids = args.get("company_ids")
    if isinstance(ids, list):
        for company in ids:
            yield company, write


def _check_companies(principal: Principal, action: ToolAction) -> str | None:
    data = principal.permissions.data_access
    ids = action.arguments.get("company_ids")
    if ids is not None and not isinstance(ids, list):
        return f"invalid company_ids {ids!r}: must be a list of company ids"
    for company, write in _company_needs(action):
        if not isinstance(company, str):
            return f"invalid company id {company!r}: must be a string"
        if write and not data.can_write(company):
            return f"{principal.name!r} may not change company {company!r}"
        if not write and not data.can_read(company):
            return f"{principal.name!r} may not read company {company!r}"
    return None


def _check_sensitive(principal: Principal, action: ToolAction) -> str | None:
    if action.arguments.get("include_sensitive") and not (
        principal.permissions.data_access.sensitive_data
    ):
        return f"{principal.name!r} may not see sensitive data (include_sensitive)"
    return None


def _check_code(principal: Principal, action: ToolAction) -> str | None:
    args = action.arguments
    # A bare ``language`` (say, a reply language in a configuration) is not code execution.
    if action.category not in CODE_CATEGORIES and not ("language" in args and "code" in args):
        return None
    code = principal.permissions.code_execution
    if not code.enabled:
        return f"code execution is not enabled for {principal.name!r}"
    language = args.get("language")
    if language is not None and (
        not isinstance(language, str) or not allows(code.languages, language)
    ):
        allowed = ", ".join(sorted(code.languages)) or "none"
        return f"language {language!r} is not allowed. Allowed: {allowed}"
    timeout = args.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            return f"invalid timeout {timeout!r}: must be a number of seconds"
        if timeout > code.max_execution_time:
            return f"timeout {timeout!r}s exceeds the limit of {code.max_execution_time:g}s"
    memory = args.get("memory")
    if memory is not None:
        try:
            size = parse_size(memory)
        except PermissionSpecError as e:
            return str(e)
        if size > code.max_memory_bytes:
            return f"memory {memory!r} exceeds the limit of {code.max_memory}"
    return _check_packages(code.allowed_packages, args.get("packages"))


def _check_packages(allowed: frozenset[str], packages: Any) -> str | None:
    if packages is None:
        return None
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        return f"invalid packages {packages!r}: must be a list of names"
    refused = [p for p in packages if not allows(allowed, p)]
    if refused:
        return f"packages not allowed: {', '.join(map(repr, refused))}"
    return None


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_integrations(principal: Principal, action: ToolAction) -> str | None:
    integrations = principal.permissions.integrations
    for key, value in action.arguments.items():
        if key in URL_KEYS or key.endswith("_url"):
            for url in _values(value):
                host = urlsplit(url).hostname if isinstance(url, str) else None
                if not host:
                    return f"invalid URL {url!r} in {key!r}: expected http(s)://host/..."
                if not integrations.allows_host(host):
                    return f"domain {host!r} is not in the allowed domains of {principal.name!r}"
        elif key in EMAIL_KEYS:
            for address in _values(value):
                if not isinstance(address, str) or "@" not in address:
                    return f"invalid e-mail address {address!r} in {key!r}"
                domain = address.rsplit("@", 1)[1].lower()
                if not allows(integrations.email_domains, domain):
                    return f"e-mail domain {domain!r} is not allowed for {principal.name!r}"
        elif key == "api" and not (
            isinstance(value, str) and allows(integrations.allowed_apis, value)
        ):
            return f"API {value!r} is not in the allowed APIs of {principal.name!r}"
    return None


def permissions_summary(permissions: ToolPermissions) -> dict[str, Any]:
    """JSON-ready view of a permission record (for ``user list --json``)."""
    return permissions.to_dict()
