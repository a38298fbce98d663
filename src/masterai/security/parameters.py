"""What a tool parameter means to the policy: :class:`ParameterRole`, declared, never guessed.

A tool declares the role of each parameter that names a company, a URL, an e-mail address,
code and its language, a model, a workspace path, a limit or a secret (``AIToolParameter(...,
role=ParameterRole.COMPANY)``, or ``roles=`` when it is registered). The policy, the audit's
company context and redaction read these declarations; nothing infers meaning from a name.

Names are still looked at once, at registration: :func:`undeclared_roles` lists parameters
whose name suggests a role but that declare none, and the registry refuses such a tool, so a
new tool with a ``tenant_id`` or ``recipients`` parameter cannot silently escape the checks.
``ParameterRole.PLAIN`` declares "this means nothing to the policy" (``max_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ai_tool import AIToolParameter


class ParameterRole(StrEnum):
    """The vocabulary of declared parameter meanings (one source, imported everywhere)."""

    PLAIN = "plain"
    """Means nothing to the policy (declared so, although the name looks like a role)."""
    COMPANY = "company"
    """A company id (or, on an array, each item): write access unless the operation is
    read-only."""
    READ_COMPANY = "read_company"
    """A company that is only read from, even by a changing operation (a copy's source)."""
    URL = "url"
    """An http(s) URL the call reaches: its host must be an allowed domain."""
    EMAIL = "email"
    """An e-mail address: its domain must be an allowed e-mail domain."""
    API = "api"
    """The name of an external API: it must be an allowed API."""
    ENDPOINT = "endpoint"
    """An http(s) URL (its host must be an allowed domain) or ``NAME/path`` of an API named
    in settings (``NAME`` must be an allowed API)."""
    CONNECTION = "connection"
    """The name of a configured database connection: it must be an allowed connection."""
    CODE = "code"
    """Program text the call runs: code execution must be enabled."""
    LANGUAGE = "language"
    """The language of the ``CODE`` parameter: it must be an allowed language."""
    PACKAGES = "packages"
    """Package names the program asks for: each must be allowed."""
    TIME_LIMIT = "time_limit"
    """Seconds a program may run: at most the principal's ``max_execution_time``."""
    MEMORY_LIMIT = "memory_limit"
    """Memory a program may use (bytes or ``"512m"``): at most ``max_memory``."""
    MODEL = "model"
    """A model spec (``provider:model@base_url``) or model name the call sends requests to."""
    PATH = "path"
    """A path in the workspace."""
    SECRET = "secret"
    """A secret: redacted wherever the call is stored or shown."""
    SENSITIVE_REQUEST = "sensitive_request"
    """A flag that, when true, asks for sensitive data: needs ``sensitive_data``."""


COMPANY_ROLES = frozenset({ParameterRole.COMPANY, ParameterRole.READ_COMPANY})

# Names that suggest a role (matched on the lower-cased parameter name). A parameter whose name
# matches must declare a role, PLAIN included.
_SUGGESTIVE = re.compile(
    r"company|^tenant|url|^endpoint$|email|^(to|cc|bcc|recipients?)$|path|file|dir$|"
    r"model|key$|token|password|secret|^code$|^language$|^timeout$|^memory$|^packages$"
)


@dataclass(frozen=True, kw_only=True)
class RoleBinding:
    """One declared role and where its values sit in the arguments."""

    path: tuple[str, ...]
    """Parameter names from the top level down (nested object fields)."""
    role: ParameterRole

    @property
    def label(self) -> str:
        """The dotted parameter path, for messages."""
        return ".".join(self.path)

    def values(self, arguments: Mapping[str, Any]) -> list[Any]:
        """The values this binding names in ``arguments``; each item of an array counts."""
        found: list[Any] = []
        _collect(arguments, self.path, found)
        return found


def _collect(value: Any, path: tuple[str, ...], found: list[Any]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, path, found)
        return
    if not path:
        found.append(value)
        return
    if isinstance(value, Mapping) and path[0] in value and value[path[0]] is not None:
        _collect(value[path[0]], path[1:], found)


def parameter_role(parameter: AIToolParameter) -> ParameterRole | None:
    """The role ``parameter`` declares (``sensitive=True`` alone declares ``SECRET``).

    Raises:
        ValueError: the declared role is not a :class:`ParameterRole` value.
    """
    if parameter.role is not None:
        try:
            return ParameterRole(parameter.role)
        except ValueError:
            allowed = ", ".join(r.value for r in ParameterRole)
            raise ValueError(
                f"Parameter {parameter.name!r} declares an unknown role {parameter.role!r}. "
                f"Allowed: {allowed}"
            ) from None
    return ParameterRole.SECRET if parameter.sensitive else None


def _walk(
    parameters: Sequence[AIToolParameter], prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], AIToolParameter]]:
    for parameter in parameters:
        path = (*prefix, parameter.name)
        yield path, parameter
        yield from _walk(parameter.property_list(), path)
        if parameter.items is not None:
            # An array's items share the array's path; their own name is not used.
            yield from _walk(parameter.items.property_list(), path)


def bindings_for(
    parameters: Sequence[AIToolParameter], extra: Mapping[str, ParameterRole] | None = None
) -> tuple[RoleBinding, ...]:
    """Every declared role among ``parameters`` (at any depth), plus ``extra`` by dotted path.

    ``extra`` declares roles for a tool whose parameters cannot be edited (a seed-era tool):
    ``{"path": ParameterRole.PATH}``; it wins over the parameter's own declaration.
    """
    extra = dict(extra or {})
    bindings = []
    for path, parameter in _walk(parameters, ()):
        role = extra.pop(".".join(path), None) or parameter_role(parameter)
        if role is not None and role is not ParameterRole.PLAIN:
            bindings.append(RoleBinding(path=path, role=role))
    if extra:
        raise ValueError(f"roles= names unknown parameters: {', '.join(sorted(extra))}")
    return tuple(bindings)


def undeclared_roles(
    parameters: Sequence[AIToolParameter], extra: Mapping[str, ParameterRole] | None = None
) -> list[str]:
    """Dotted paths of parameters whose name suggests a role but that declare none."""
    declared = set(extra or {})
    return [
        ".".join(path)
        for path, parameter in _walk(parameters, ())
        if path[-1] != "operation"
        and parameter.role is None
        and not parameter.sensitive
        and ".".join(path) not in declared
        and _SUGGESTIVE.search(path[-1].lower())
    ]
