"""``ToolPermissions`` in the shape of seed 000, plus the per-category tool access of a role.

``"*"`` in a set means "any". Every record is immutable; :func:`apply_override` returns a new
one with one dotted field replaced (``code_execution.languages``, ``model_calls.enabled``,
``tools.code``, ...).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from masterai.security.errors import PermissionSpecError

ANY = "*"
ACCESS_LEVELS = ("none", "read", "write")
"""Tool access per category: ``read`` allows only read-only operations."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """Bytes in a size such as ``"512m"``, ``"2GiB"``, ``"100k"`` or an integer of bytes.

    Raises:
        PermissionSpecError: the value is not a size.
    """
    if isinstance(value, bool):
        raise PermissionSpecError(f"Invalid size {value!r}: use bytes or a string like '512m'")
    if isinstance(value, int):
        if value < 0:
            raise PermissionSpecError(f"Invalid size {value!r}: must not be negative")
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise PermissionSpecError(
            f"Invalid size {value!r}: use bytes or a number with k, m, g or t (e.g. '512m')"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def allows(values: frozenset[str], item: str) -> bool:
    """Whether ``values`` contains ``item`` or the wildcard ``"*"``."""
    return ANY in values or item in values


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _in_network(address: IPAddress, network: IPNetwork) -> bool:
    if address.version == network.version and address in network:
        return True
    # ::ffff:10.0.0.1 is 10.0.0.1 to a dual-stack socket.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped is not None and network.version == 4 and mapped in network


def host_allowed(patterns: Iterable[str], host: str) -> bool:
    """Whether ``host`` matches one of ``patterns``.

    A pattern is ``"*"`` (any host), a host name (it also admits its subdomains; a leading
    ``*.`` means the same), an IP address, or a CIDR block. Names match names only, and
    addresses and blocks match hosts written as IP addresses (``[::1]`` brackets allowed), so
    ``10.0.0.0/8`` admits ``http://10.1.2.3/`` but not a name that resolves there.
    """
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    address = _address(host)
    for raw in patterns:
        pattern = raw.strip().lower().rstrip(".")
        if pattern == ANY:
            return True
        if address is not None:
            network = _network(pattern)
            if network is not None and _in_network(address, network):
                return True
            continue
        pattern = pattern.removeprefix("*.")
        if pattern and (host == pattern or host.endswith("." + pattern)):
            return True
    return False


@dataclass(frozen=True, kw_only=True)
class CodeExecutionPermissions:
    """What code a principal may run in the sandbox."""

    enabled: bool = False
    languages: frozenset[str] = frozenset()
    max_execution_time: float = 30.0
    """Seconds."""
    max_memory: str = "512m"
    allowed_packages: frozenset[str] = frozenset()
    """Packages code may ask for; ``"*"`` for any."""

    @property
    def max_memory_bytes(self) -> int:
        """``max_memory`` in bytes."""
        return parse_size(self.max_memory)


@dataclass(frozen=True, kw_only=True)
class DataAccessPermissions:
    """Which companies' data a principal may read and change."""

    read_companies: frozenset[str] = frozenset()
    write_companies: frozenset[str] = frozenset()
    """Write access implies read access."""
    sensitive_data: bool = False
    """May see data marked sensitive (customer PII, secrets in configurations)."""

    def can_read(self, company_id: str) -> bool:
        """Whether ``company_id`` may be read."""
        return allows(self.read_companies, company_id) or self.can_write(company_id)

    def can_write(self, company_id: str) -> bool:
        """Whether ``company_id`` may be changed."""
        return allows(self.write_companies, company_id)


@dataclass(frozen=True, kw_only=True)
class IntegrationPermissions:
    """Where integrations may reach."""

    allowed_domains: frozenset[str] = frozenset()
    """Hosts a call may name (URLs, a model's ``@base_url``): host names (an entry also allows
    its subdomains), IP addresses and CIDR blocks; see :func:`host_allowed`."""
    allowed_apis: frozenset[str] = frozenset()
    email_domains: frozenset[str] = frozenset()
    allowed_connections: frozenset[str] = frozenset()
    """Database connections (names of ``integrations.connections``) a call may query."""

    def allows_host(self, host: str) -> bool:
        """Whether ``host`` is allowed (a listed name or a parent domain, address or block)."""
        return host_allowed(self.allowed_domains, host)


@dataclass(frozen=True, kw_only=True)
class ModelCallPermissions:
    """Whether a principal may run operations that call language models (they cost money)."""

    enabled: bool = False
    max_cost_usd: float | None = None
    """Spend budget in USD. Recorded for the budget ledger but **not yet enforced**: spend is
    not yet recorded per principal (the agent's per-turn ``max_cost_usd`` is the enforced
    limit today)."""


@dataclass(frozen=True, kw_only=True)
class ApprovalPermissions:
    """Calls a principal's own requests may approve where the face cannot ask a human."""

    auto_approve: frozenset[str] = frozenset()
    """Tool categories (``"*"`` for any) whose calls that need approval run without asking
    when the client has no way to ask (an MCP client without elicitation)."""

    def auto_approves(self, category: str) -> bool:
        """Whether calls of tools in ``category`` are approved without asking."""
        return allows(self.auto_approve, category)


@dataclass(frozen=True, kw_only=True)
class ToolPermissions:
    """The permission record of one principal (seed 000) plus tool access per category."""

    code_execution: CodeExecutionPermissions = field(default_factory=CodeExecutionPermissions)
    data_access: DataAccessPermissions = field(default_factory=DataAccessPermissions)
    integrations: IntegrationPermissions = field(default_factory=IntegrationPermissions)
    model_calls: ModelCallPermissions = field(default_factory=ModelCallPermissions)
    approvals: ApprovalPermissions = field(default_factory=ApprovalPermissions)
    tools: Mapping[str, str] = field(default_factory=dict)
    """Access level (``none``/``read``/``write``) per tool category; key ``"*"`` is the
    default for categories not listed."""

    def tool_access(self, category: str) -> str:
        """The access level for tools of ``category``."""
        return self.tools.get(category, self.tools.get(ANY, "none"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (sets as sorted lists)."""

        def plain(value: Any) -> Any:
            if isinstance(value, frozenset):
                return sorted(value)
            if isinstance(value, Mapping):
                return {k: plain(v) for k, v in sorted(value.items())}
            return value

        return {
            section: {k: plain(v) for k, v in dataclasses.asdict(getattr(self, section)).items()}
            for section in _SECTIONS
        } | {"tools": plain(self.tools)}


_SECTIONS = ("code_execution", "data_access", "integrations", "model_calls", "approvals")


def override_keys() -> list[str]:
    """Every dotted key :func:`apply_override` accepts (``tools.<category>`` besides)."""
    blank = ToolPermissions()
    keys = [
        f"{section}.{f.name}"
        for section in _SECTIONS
        for f in dataclasses.fields(getattr(blank, section))
    ]
    return [*keys, "tools.<category>"]


def _coerce(key: str, current: Any, value: Any) -> Any:
    if key.endswith("max_cost_usd"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
            raise PermissionSpecError(f"{key} must be a number of USD (0 or more), got {value!r}")
        return float(value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise PermissionSpecError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(current, frozenset):
        if not isinstance(value, list | tuple | set | frozenset) or not all(
            isinstance(v, str) and v for v in value
        ):
            raise PermissionSpecError(f"{key} must be a list of names, got {value!r}")
        return frozenset(value)
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise PermissionSpecError(f"{key} must be a positive number, got {value!r}")
        return float(value)
    if key.endswith("max_memory"):
        parse_size(value)
        return str(value)
    raise PermissionSpecError(f"{key} cannot be overridden")  # pragma: no cover


def apply_override(permissions: ToolPermissions, key: str, value: Any) -> ToolPermissions:
    """Return ``permissions`` with the dotted field ``key`` set to ``value``.

    Raises:
        PermissionSpecError: unknown key or a value of the wrong shape.
    """
    section, _, name = key.partition(".")
    if section == "tools" and name:
        if value not in ACCESS_LEVELS:
            raise PermissionSpecError(
                f"{key} must be one of {', '.join(ACCESS_LEVELS)}, got {value!r}"
            )
        return dataclasses.replace(permissions, tools={**permissions.tools, name: value})
    if section not in _SECTIONS:
        raise PermissionSpecError(
            f"Unknown permission {key!r}. Allowed: {', '.join(override_keys())}"
        )
    part = getattr(permissions, section)
    if name not in {f.name for f in dataclasses.fields(part)}:
        raise PermissionSpecError(
            f"Unknown permission {key!r}. Allowed: {', '.join(override_keys())}"
        )
    new_part = dataclasses.replace(part, **{name: _coerce(key, getattr(part, name), value)})
    return dataclasses.replace(permissions, **{section: new_part})


def apply_overrides(permissions: ToolPermissions, overrides: Mapping[str, Any]) -> ToolPermissions:
    """Apply several dotted overrides in key order (see :func:`apply_override`)."""
    for key in sorted(overrides):
        permissions = apply_override(permissions, key, overrides[key])
    return permissions
