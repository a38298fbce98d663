"""The one policy function: :func:`decide` (principal, tool action) -> :class:`Decision`.

Deny by default. Besides the principal's access to the tool's category, it reads the
arguments whose role the operation declares (:class:`~masterai.security.parameters.
ParameterRole`); no argument name means anything here:

- ``COMPANY`` values (and the call's company scope) need write access unless the operation is
  read-only; ``READ_COMPANY`` values need read access;
- a true ``SENSITIVE_REQUEST`` flag needs ``data_access.sensitive_data``;
- an operation that runs code (a ``CODE`` parameter, ``ToolAction.executes_code``, or a tool
  of category ``code``, ``scripts`` or ``custom``) needs code execution enabled, and its
  ``LANGUAGE`` and ``PACKAGES`` values allowed; ``TIME_LIMIT`` and ``MEMORY_LIMIT`` values
  are bounded by the code-execution limits wherever they are declared (so the registry may
  honour them);
- an operation that calls a language model (``ToolAction.calls_model``; it costs money) needs
  ``model_calls.enabled``;
- ``URL`` hosts, and the host of a ``MODEL`` spec's ``@base_url``
  (``openai:gpt-4o@https://host/v1``), must be allowed domains (names, addresses or CIDR
  blocks); ``EMAIL`` domains allowed e-mail domains, ``API`` names allowed APIs,
  ``CONNECTION`` names allowed database connections; an ``ENDPOINT`` is either a URL or
  ``NAME/path`` of a named API and is checked as one or the other.

The egress guard (:mod:`masterai.security.egress`) checks the same hosts again when it
connects, and refuses private, loopback and metadata addresses whatever the domains say.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from masterai.security.errors import PermissionSpecError
from masterai.security.parameters import ParameterRole, RoleBinding
from masterai.security.permissions import ToolPermissions, allows, parse_size
from masterai.security.principals import Principal

CODE_CATEGORIES = frozenset({"code", "scripts", "custom"})


@dataclass(frozen=True, kw_only=True)
class ToolAction:
    """What a principal wants to do: one operation of one tool with its arguments."""

    tool: str
    category: str
    """Tool category for role access (``configuration``, ``analytics``, ``code``, ...)."""
    operation: str | None
    read_only: bool
    arguments: Mapping[str, Any] = field(default_factory=dict)
    roles: Sequence[RoleBinding] = ()
    """The roles the operation declares for its parameters."""
    company_id: str | None = None
    """The call's company scope, if any."""
    calls_model: bool = False
    """The operation calls a language model (it costs money): needs ``model_calls.enabled``."""
    executes_code: bool = False
    """The operation runs code it does not take as an argument (a stored custom tool's)."""

    @property
    def runs_code(self) -> bool:
        """Whether the operation runs code (a ``CODE`` parameter, declared, or a code tool)."""
        return (
            self.executes_code
            or self.category in CODE_CATEGORIES
            or any(b.role is ParameterRole.CODE for b in self.roles)
        )

    def values(self, role: ParameterRole) -> Iterator[tuple[RoleBinding, Any]]:
        """Every (binding, value) of ``role`` in the arguments."""
        for binding in self.roles:
            if binding.role is role:
                for value in binding.values(self.arguments):
                    yield binding, value

    def companies(self) -> Iterator[tuple[Any, bool]]:
        """(company id, needs write) pairs named by the arguments and the call's scope."""
        write = not self.read_only
        if self.company_id is not None:
            yield self.company_id, write
        for _, value in self.values(ParameterRole.COMPANY):
            yield value, write
        for _, value in self.values(ParameterRole.READ_COMPANY):
            yield value, False


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
    checks = (
        _check_tool,
        _check_model_calls,
        _check_companies,
        _check_sensitive,
        _check_code,
        _check_limits,
        _check_integrations,
    )
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


def _check_model_calls(principal: Principal, action: ToolAction) -> str | None:
    if action.calls_model and not principal.permissions.model_calls.enabled:
        return (
            f"{principal.name!r} may not call language models: {_what(action)} calls a model "
            "and costs money (grant model_calls.enabled)"
        )
    return None


def _check_companies(principal: Principal, action: ToolAction) -> str | None:
    data = principal.permissions.data_access
    for company, write in action.companies():
        if not isinstance(company, str):
            return f"invalid company id {company!r}: must be a string"
        if write and not data.can_write(company):
            return f"{principal.name!r} may not change company {company!r}"
        if not write and not data.can_read(company):
            return f"{principal.name!r} may not read company {company!r}"
    return None


def _check_sensitive(principal: Principal, action: ToolAction) -> str | None:
    if principal.permissions.data_access.sensitive_data:
        return None
    for binding, value in action.values(ParameterRole.SENSITIVE_REQUEST):
        if value:
            return f"{principal.name!r} may not see sensitive data ({binding.label})"
    return None


def _check_code(principal: Principal, action: ToolAction) -> str | None:
    if not action.runs_code:
        return None
    code = principal.permissions.code_execution
    if not code.enabled:
        return f"code execution is not enabled for {principal.name!r}"
    for _, language in action.values(ParameterRole.LANGUAGE):
        if not isinstance(language, str) or not allows(code.languages, language):
            allowed = ", ".join(sorted(code.languages)) or "none"
            return f"language {language!r} is not allowed. Allowed: {allowed}"
    refused = [
        repr(p)
        for _, p in action.values(ParameterRole.PACKAGES)
        if not isinstance(p, str) or not allows(code.allowed_packages, p)
    ]
    if refused:
        return f"packages not allowed: {', '.join(refused)}"
    return None


def _check_limits(principal: Principal, action: ToolAction) -> str | None:
    """Declared time and memory limits are bounded by the principal's code limits."""
    code = principal.permissions.code_execution
    for binding, timeout in action.values(ParameterRole.TIME_LIMIT):
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            return f"invalid {binding.label} {timeout!r}: must be a number of seconds"
        if timeout > code.max_execution_time:
            return f"{binding.label} {timeout!r}s exceeds the limit of {code.max_execution_time:g}s"
    for binding, memory in action.values(ParameterRole.MEMORY_LIMIT):
        try:
            size = parse_size(memory)
        except PermissionSpecError as e:
            return str(e)
        if size > code.max_memory_bytes:
            return f"{binding.label} {memory!r} exceeds the limit of {code.max_memory}"
    return None


def _check_integrations(principal: Principal, action: ToolAction) -> str | None:
    integrations = principal.permissions.integrations
    for binding, url in action.values(ParameterRole.URL):
        host = _host(url)
        if not host:
            return f"invalid URL {url!r} in {binding.label!r}: expected http(s)://host/..."
        if not integrations.allows_host(host):
            return f"domain {host!r} is not in the allowed domains of {principal.name!r}"
    denial = _check_model_endpoints(principal, action)
    if denial is not None:
        return denial
    for binding, address in action.values(ParameterRole.EMAIL):
        if not isinstance(address, str) or "@" not in address:
            return f"invalid e-mail address {address!r} in {binding.label!r}"
        domain = address.rsplit("@", 1)[1].lower()
        if not allows(integrations.email_domains, domain):
            return f"e-mail domain {domain!r} is not allowed for {principal.name!r}"
    for _, api in action.values(ParameterRole.API):
        if not (isinstance(api, str) and allows(integrations.allowed_apis, api)):
            return f"API {api!r} is not in the allowed APIs of {principal.name!r}"
    for _, name in action.values(ParameterRole.CONNECTION):
        if not (isinstance(name, str) and allows(integrations.allowed_connections, name)):
            return (
                f"database connection {name!r} is not in the allowed connections of "
                f"{principal.name!r} (grant integrations.allowed_connections)"
            )
    return _check_endpoints(principal, action)


def _check_endpoints(principal: Principal, action: ToolAction) -> str | None:
    """An ``ENDPOINT`` is a URL (allowed domain) or ``NAME/path`` (allowed API)."""
    integrations = principal.permissions.integrations
    for binding, endpoint in action.values(ParameterRole.ENDPOINT):
        if not isinstance(endpoint, str) or not endpoint:
            return f"invalid endpoint {endpoint!r} in {binding.label!r}"
        if "://" in endpoint:
            host = _host(endpoint)
            if not host:
                return f"invalid URL {endpoint!r} in {binding.label!r}: expected http(s)://host/"
            if not integrations.allows_host(host):
                return f"domain {host!r} is not in the allowed domains of {principal.name!r}"
            continue
        api = endpoint.split("/", 1)[0]
        if not allows(integrations.allowed_apis, api):
            return f"API {api!r} is not in the allowed APIs of {principal.name!r}"
    return None


def model_base_url(spec: str) -> str | None:
    """The ``@base_url`` of a model spec ``provider:model@base_url``, if it names one.

    Text after ``@`` without ``://`` is not a destination (a model name such as
    ``claude-3-5-sonnet@20240620``); the model layer refuses such a spec itself.
    """
    _, at, base = spec.partition("@")
    return base if at and "://" in base else None


def _check_model_endpoints(principal: Principal, action: ToolAction) -> str | None:
    for binding, spec in action.values(ParameterRole.MODEL):
        if not isinstance(spec, str):
            return f"invalid model {spec!r} in {binding.label!r}: expected provider:model"
        base = model_base_url(spec)
        if base is None:
            continue
        host = _host(base)
        if not host:
            return f"invalid base URL {base!r} of model {spec!r} in {binding.label!r}"
        if not principal.permissions.integrations.allows_host(host):
            return (
                f"model endpoint {host!r} ({binding.label}) is not in the allowed domains of "
                f"{principal.name!r}"
            )
    return None


def _host(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None


def permissions_summary(permissions: ToolPermissions) -> dict[str, Any]:
    """JSON-ready view of a permission record (for ``user list --json``)."""
    return permissions.to_dict()
