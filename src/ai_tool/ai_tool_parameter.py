"""One parameter of a tool, with its JSON type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The JSON types the framework checks and exports.
PARAMETER_TYPES = ("string", "number", "integer", "boolean", "array", "object")


@dataclass
class AIToolParameter:
    """A tool parameter.

    Seed 003 fields come first and keep their positions; the rest are keyword-only.
    """

    name: str
    type: str
    """One of :data:`PARAMETER_TYPES`; other strings are passed through unchecked."""
    description: str
    required: bool = True
    enum: list[Any] | None = None
    """Allowed values, checked after the type."""
    properties: list[AIToolParameter] | dict[str, AIToolParameter] | None = None
    """Fields of an ``object`` parameter (a list; a name-keyed dict as in the seed works too)."""
    items: AIToolParameter | None = field(default=None, kw_only=True)
    """Type of each element of an ``array`` parameter (its ``name`` is not used)."""
    sensitive: bool = field(default=False, kw_only=True)
    """The value is a secret: audit trails and logs must redact it."""
    default: Any = field(default=None, kw_only=True)
    """Value the handler uses when the parameter is absent (documentation and schemas)."""
    role: str | None = field(default=None, kw_only=True)
    """What the value means to the host application's policy: for example a company id, a
    URL, an e-mail address, code, a model spec, a workspace path or a secret.

    The framework itself never interprets it (schemas, checking and help ignore it); host
    applications define the vocabulary. Master AI's is ``masterai.security.ParameterRole``, a
    ``StrEnum``, so its members are strings and can be passed here directly.
    """

    def property_list(self) -> list[AIToolParameter]:
        """Return the nested ``properties`` as a list, whichever form they were given in."""
        if self.properties is None:
            return []
        if isinstance(self.properties, dict):
            return list(self.properties.values())
        return list(self.properties)
